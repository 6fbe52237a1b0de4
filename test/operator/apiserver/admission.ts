import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Lease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Event } from 'kubernetes-models/v1/Event';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { JSONSchemaProps } from '../../../operator/src/crd/schema_dsl.js';
import { compareQuantity } from '../../../operator/src/reconcile/quantity.js';
import type { Obj } from './store.js';
import { defaultAndPrune, validate, type FieldError } from './structural.js';

/**
 * Admission in the stand-in: every built-in object is checked against the
 * upstream OpenAPI schema (kubernetes-models' generated validators), custom
 * resources against their CRD's structural schema and CEL rules, plus the
 * immutability rules of the kinds the operator writes.
 */
interface Validatable {
  validate(): void;
}
type ModelCtor = new (data: never) => Validatable;

const MODELS: Record<string, ModelCtor> = {
  'apps/v1/StatefulSet': StatefulSet as unknown as ModelCtor,
  'v1/Pod': Pod as unknown as ModelCtor,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim as unknown as ModelCtor,
  'v1/Service': Service as unknown as ModelCtor,
  'v1/ConfigMap': ConfigMap as unknown as ModelCtor,
  'v1/Secret': Secret as unknown as ModelCtor,
  'v1/Event': Event as unknown as ModelCtor,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as ModelCtor,
  'coordination.k8s.io/v1/Lease': Lease as unknown as ModelCtor,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition as unknown as ModelCtor,
  // prometheus-operator's CRDs, by its published schemas (served only when a test installs them)
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as ModelCtor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule as unknown as ModelCtor,
};

export class Invalid extends Error {
  constructor(
    readonly kind: string,
    readonly objName: string,
    readonly errors: FieldError[],
  ) {
    super(`${kind} "${objName}" is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join(', ')}`);
  }
}

export function validateBuiltin(o: Obj): void {
  const apiVersion = String(o.apiVersion ?? '');
  const kind = String(o.kind ?? '');
  const M = MODELS[`${apiVersion}/${kind}`];
  if (!M) throw new Invalid(kind, o.metadata.name, [{ path: 'kind', message: `the stand-in has no schema for ${apiVersion} ${kind}` }]);
  try {
    new M(o as never).validate();
  } catch (e) {
    throw new Invalid(kind, o.metadata.name, [{ path: '<openapi>', message: (e as Error).message }]);
  }
}

const STS_MUTABLE = ['replicas', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds', 'ordinals', 'revisionHistoryLimit'];

/** The update rules of built-in kinds that the operator must respect. */
export function checkImmutable(o: Obj, old: Obj): void {
  const kind = String(o.kind);
  if (kind === 'StatefulSet') {
    const a = (o.spec ?? {}) as Record<string, unknown>;
    const b = (old.spec ?? {}) as Record<string, unknown>;
    const changed = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !STS_MUTABLE.includes(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    if (changed.length) {
      throw new Invalid(kind, o.metadata.name, [{ path: 'spec', message: `Forbidden: updates to statefulset spec for fields other than ${STS_MUTABLE.map((f) => `'${f}'`).join(', ')} are forbidden (changed: ${changed.join(', ')})` }]);
    }
  }
  if (kind === 'PersistentVolumeClaim') {
    const size = (x: Obj) => ((x.spec as { resources?: { requests?: { storage?: string } } } | undefined)?.resources?.requests?.storage) ?? '0';
    const strip = (x: Obj) => JSON.stringify({ ...(x.spec as object), resources: undefined });
    if (strip(o) !== strip(old)) throw new Invalid(kind, o.metadata.name, [{ path: 'spec', message: 'Forbidden: spec is immutable after creation except resources.requests for bound claims' }]);
    if ((compareQuantity(size(o), size(old)) ?? 0) < 0) throw new Invalid(kind, o.metadata.name, [{ path: 'spec.resources.requests.storage', message: 'Forbidden: field can not be less than previous value' }]);
  }
}

/** Defaults and prunes a custom resource by its CRD schema, then validates spec (and status) with their CEL rules. */
export function admitCustom(schema: JSONSchemaProps, o: Obj, old: Obj | undefined): Obj {
  const { metadata, apiVersion, kind, ...rest } = o;
  const body = defaultAndPrune(schema, rest) as Record<string, unknown>;
  const errs: FieldError[] = [];
  for (const r of schema.required ?? []) if (body[r] === undefined) errs.push({ path: r, message: 'Required value' });
  for (const field of ['spec', 'status'] as const) {
    const s = schema.properties?.[field];
    if (s && body[field] !== undefined) validate(s, body[field], old?.[field], field, errs);
  }
  if (errs.length) throw new Invalid(String(kind), metadata.name, errs);
  return { apiVersion, kind, metadata, ...body } as Obj;
}
