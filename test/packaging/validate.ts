import * as k8s from '@kubernetes/client-node';
import { Ajv, type ErrorObject } from 'ajv';

/**
 * Validation of rendered objects against the upstream schemas, offline:
 *
 * - Kubernetes built-in kinds: kubernetes-models' validators, compiled from the
 *   Kubernetes OpenAPI spec (types, required fields, enums, formats such as
 *   quantities), plus a strict pass that rejects fields the API does not have
 *   (as `kubectl apply --validate=strict` would), using the field lists of
 *   @kubernetes/client-node's models (generated from the same OpenAPI spec);
 * - ServiceMonitor and PrometheusRule: @kubernetes-models/prometheus-operator,
 *   compiled from the Prometheus Operator's CRD schemas;
 * - custom resources: the openAPIV3Schema of the CRD that defines them, with ajv.
 */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

interface Model {
  validate(): void;
}
type ModelModule = Record<string, new (data: unknown) => Model>;

function groupVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

async function loadModel(o: KubeObject): Promise<(new (data: unknown) => Model) | undefined> {
  const { group, version } = groupVersion(o.apiVersion);
  const spec = group === 'monitoring.coreos.com'
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${o.kind}`
    : `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`;
  try {
    const mod = (await import(spec)) as ModelModule;
    return mod[o.kind];
  } catch {
    return undefined;
  }
}

interface Attribute {
  baseName: string;
  type: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };
const models = k8s as unknown as Record<string, ModelClass | undefined>;

function modelClass(name: string): ModelClass | undefined {
  const c = models[name];
  return c && typeof c.getAttributeTypeMap === 'function' ? c : undefined;
}

/** Fields of `value` (of client-node model `type`) that the Kubernetes API does not define, as JSON paths. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`)) : [];
  }
  const cls = modelClass(type);
  if (!cls || typeof value !== 'object' || Array.isArray(value)) return [];
  const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const t = attrs.get(k);
    if (t === undefined) {
      out.push(`${path}.${k}`);
      continue;
    }
    // JSONSchemaProps declares these as `any`; they hold schemas too
    const sub = type === 'V1JSONSchemaProps' && (k === 'items' || k === 'additionalProperties') && typeof v === 'object' ? 'V1JSONSchemaProps' : t;
    out.push(...unknownFields(v, sub, `${path}.${k}`));
  }
  return out;
}

function formatAjv(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`).join('; ');
}

/** Makes an OpenAPI v3 structural schema (a CRD's) checkable by ajv: Kubernetes extensions become what they mean. */
export function jsonSchemaOfOpenApi(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(jsonSchemaOfOpenApi);
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'nullable' || k === 'format') continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([p, sub]) => [p, jsonSchemaOfOpenApi(sub)])) : jsonSchemaOfOpenApi(v);
  }
  if (s['x-kubernetes-int-or-string']) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  // a structural schema prunes unknown fields; strict field validation rejects them, so do we
  if (out.type === 'object' && out.properties && !s['x-kubernetes-preserve-unknown-fields'] && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  if (s.nullable && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

export class Validator {
  private readonly crds = new Map<string, (o: unknown) => string | undefined>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false });

  /** Registers the custom resources a CRD defines (every served version). */
  addCrd(crd: KubeObject): void {
    const spec = crd.spec as { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: unknown } }[] };
    for (const v of spec.versions) {
      const schema = jsonSchemaOfOpenApi(v.schema?.openAPIV3Schema ?? {}) as Record<string, unknown>;
      // metadata is checked by the API machinery, not the CRD schema
      const props = schema.properties as Record<string, unknown>;
      props.metadata = { type: 'object' };
      const check = this.ajv.compile(schema);
      this.crds.set(`${spec.group}/${v.name}/${spec.names.kind}`, (o) => (check(o) ? undefined : formatAjv(check.errors)));
    }
  }

  /** Problems of one object; empty when it is valid. */
  async problems(o: KubeObject): Promise<string[]> {
    const what = `${o.kind}/${o.metadata?.name ?? '?'}`;
    if (!o.apiVersion || !o.kind || !o.metadata?.name) return [`${what}: apiVersion, kind and metadata.name are required`];
    const crd = this.crds.get(`${o.apiVersion}/${o.kind}`);
    if (crd) {
      const err = crd(o);
      return err ? [`${what}: ${err}`] : [];
    }
    const Model = await loadModel(o);
    if (!Model) return [`${what}: no schema for ${o.apiVersion} ${o.kind}`];
    const out: string[] = [];
    try {
      new Model(o).validate();
    } catch (e) {
      out.push(`${what}: ${(e as Error).message}`);
    }
    if (groupVersion(o.apiVersion).group !== 'monitoring.coreos.com') {
      const { version } = groupVersion(o.apiVersion);
      const cls = `${version.charAt(0).toUpperCase()}${version.slice(1)}${o.kind}`;
      if (!modelClass(cls)) out.push(`${what}: no field list for ${cls}`);
      for (const f of unknownFields(o, cls)) out.push(`${what}: unknown field ${f}`);
    }
    return out;
  }

  async problemsOfAll(objects: KubeObject[]): Promise<string[]> {
    return (await Promise.all(objects.map((o) => this.problems(o)))).flat();
  }
}
