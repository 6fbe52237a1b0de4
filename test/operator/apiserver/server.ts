import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { JSONSchemaProps } from '../../../operator/src/crd/schema_dsl.js';
import { admitCustom, checkImmutable, Invalid, validateBuiltin } from './admission.js';
import { mergePatch, serverSideApply } from './patch.js';
import { authorize, type Identity } from './rbac.js';
import { rtKey, Store, StoreError, type Obj, type ResourceType } from './store.js';

/**
 * A local stand-in for the Kubernetes API server, for the operator e2e tests
 * only. It serves the REST paths the operator uses: list and watch (with
 * resourceVersion and label selectors; 410 Gone for expired history), get,
 * create, update, merge patch, server-side apply, the status subresource,
 * delete (finalizers, garbage collection), 409 conflicts, and CRDs that
 * become served resources. Every write passes admission (admission.ts).
 */
const BUILTIN: ResourceType[] = [
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, statusSubresource: true, graceful: true },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, statusSubresource: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, statusSubresource: false },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, statusSubresource: false },
  { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true, statusSubresource: true },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, statusSubresource: false },
  { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true, statusSubresource: true },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true, statusSubresource: true },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, statusSubresource: false },
  { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false, statusSubresource: true },
];

/** prometheus-operator's kinds, served when a test says it is installed (RkvCluster spec.monitoring). */
export const MONITORING_TYPES: ResourceType[] = [
  { group: 'monitoring.coreos.com', version: 'v1', plural: 'servicemonitors', kind: 'ServiceMonitor', namespaced: true, statusSubresource: false },
  { group: 'monitoring.coreos.com', version: 'v1', plural: 'prometheusrules', kind: 'PrometheusRule', namespaced: true, statusSubresource: false },
];

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface Route {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  sub?: string;
}

export interface RequestLogEntry {
  identity: string;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  code: number;
}

export function selectorFilter(sel: string | null): (o: Obj) => boolean {
  if (!sel) return () => true;
  const terms = sel.split(',').map((t) => t.trim()).filter(Boolean);
  return (o) => terms.every((t) => {
    const labels = o.metadata.labels ?? {};
    const ne = t.split('!=');
    if (ne.length === 2) return labels[ne[0]!] !== ne[1];
    const eq = t.split(/==?/);
    if (eq.length === 2) return labels[eq[0]!] === eq[1];
    return t.startsWith('!') ? !(t.slice(1) in labels) : t in labels;
  });
}

export class ApiServer {
  readonly store = new Store();
  readonly requests: RequestLogEntry[] = [];
  private readonly schemas = new Map<string, JSONSchemaProps>();
  private readonly applied = new Map<string, Map<string, string[][]>>();
  private readonly server: http.Server;
  private readonly open = new Set<http.ServerResponse>();
  url = '';
  /** close watches after this long, so clients exercise re-watching */
  watchTimeoutMs = 30_000;
  /** test hook: answer this many upcoming watch requests with 500 (client-node informers stop on those) */
  failWatches = 0;

  constructor(
    private readonly tokens: Record<string, Identity>,
    extraTypes: ResourceType[] = [],
  ) {
    for (const rt of [...BUILTIN, ...extraTypes]) this.store.register(rt);
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Ends every open watch (as an API server restart would). */
  dropWatches(): void {
    for (const r of this.open) r.end();
  }

  private route(url: URL): Route {
    const p = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (p[0] === 'api') [group, version, rest] = ['', p[1] ?? '', p.slice(2)];
    else if (p[0] === 'apis') [group, version, rest] = [p[1] ?? '', p[2] ?? '', p.slice(3)];
    else throw new HttpError(404, 'NotFound', `no route for ${url.pathname}`);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const rt = this.store.types.get(`${group}/${rest[0] ?? ''}`);
    if (!rt || rt.version !== version) throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    return { rt, ...(namespace ? { namespace } : {}), ...(rest[1] ? { name: rest[1] } : {}), ...(rest[2] ? { sub: rest[2] } : {}) };
  }

  /** The APIResourceList of a group version; 404 when nothing of it is served. */
  private discover(pathname: string): unknown {
    const p = pathname.split('/').filter(Boolean);
    const [group, version] = p[0] === 'api' ? ['', p[1]!] : [p[1]!, p[2]!];
    const served = [...this.store.types.values()].filter((t) => t.group === group && t.version === version);
    if (served.length === 0) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: served.map((t) => ({ name: t.plural, namespaced: t.namespaced, kind: t.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] })),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const id = this.tokens[token];
    let entry: RequestLogEntry | undefined;
    try {
      if (!id) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      // API discovery is open to every authenticated identity (system:discovery), as on a real API server
      if (req.method === 'GET' && /^\/(api\/[^/]+|apis\/[^/]+\/[^/]+)\/?$/.test(url.pathname)) return send(res, 200, this.discover(url.pathname));
      const r = this.route(url);
      const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const verb = verbOf(req.method ?? 'GET', !!r.name, watch);
      const resource = r.sub ? `${r.rt.plural}/${r.sub}` : r.rt.plural;
      entry = { identity: id.name, verb, resource, ...(r.namespace ? { namespace: r.namespace } : {}), ...(r.name ? { name: r.name } : {}), code: 200 };
      this.requests.push(entry);
      const may = (v: string) => authorize(id, v, r.rt.group, resource, r.namespace);
      if (!may(verb)) throw new HttpError(403, 'Forbidden', `${resource}.${r.rt.group} is forbidden: User "${id.name}" cannot ${verb} resource "${resource}" in API group "${r.rt.group}"${r.namespace ? ` in the namespace "${r.namespace}"` : ''}`);
      const body = await readBody(req);
      if (watch && this.failWatches > 0) {
        this.failWatches--;
        throw new HttpError(500, 'InternalError', 'injected watch failure');
      }
      if (watch) return this.watch(r, url, res);
      const out = this.dispatch(r, req.method ?? 'GET', url, body, req.headers['content-type'] ?? '', may);
      send(res, out.code, out.body);
      entry.code = out.code;
    } catch (e) {
      const err = e instanceof HttpError || e instanceof StoreError ? e
        : e instanceof Invalid ? new HttpError(422, 'Invalid', e.message)
        : new HttpError(500, 'InternalError', (e as Error).stack ?? String(e));
      if (entry) entry.code = err.code;
      send(res, err.code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, code: err.code });
    }
  }

  private dispatch(r: Route, method: string, url: URL, raw: string, contentType: string, may: (verb: string) => boolean): { code: number; body: unknown } {
    const key = rtKey(r.rt);
    if (method === 'GET' && !r.name) {
      const items = this.store.list(key, r.namespace, selectorFilter(url.searchParams.get('labelSelector')));
      return { code: 200, body: { apiVersion: r.rt.group ? `${r.rt.group}/${r.rt.version}` : r.rt.version, kind: `${r.rt.kind}List`, metadata: { resourceVersion: String(this.store.revision) }, items } };
    }
    if (method === 'GET') return { code: 200, body: this.mustGet(r) };
    if (method === 'POST') return { code: 201, body: this.create(r, parseBody(raw, contentType)) };
    if (method === 'DELETE') {
      const o = this.store.delete(key, r.namespace, r.name!);
      return { code: 200, body: o };
    }
    const old = method === 'PATCH' && contentType.startsWith('application/apply-patch') ? this.store.get(key, r.namespace, r.name!) : this.mustGet(r);
    const patch = parseBody(raw, contentType);
    if (method === 'PUT') return { code: 200, body: this.write(r, patch as Obj, old!) };
    if (contentType.startsWith('application/apply-patch')) {
      const manager = url.searchParams.get('fieldManager');
      if (!manager) throw new HttpError(400, 'BadRequest', 'PATCH, application/apply-patch+yaml: fieldManager is required');
      if (!old) {
        if (!may('create')) throw new HttpError(403, 'Forbidden', `cannot create ${r.rt.plural} through apply`);
        const created = this.create(r, patch);
        this.applied.set(String(created.metadata.uid), new Map([[manager, serverSideApply({}, patch as Obj, []).owned]]));
        return { code: 201, body: created };
      }
      const owners = this.applied.get(String(old.metadata.uid)) ?? new Map<string, string[][]>();
      const { object, owned } = serverSideApply(old, patch as Obj, owners.get(manager) ?? []);
      const updated = this.write(r, object as Obj, old);
      owners.set(manager, owned);
      this.applied.set(String(old.metadata.uid), owners);
      return { code: 200, body: updated };
    }
    if (contentType.startsWith('application/merge-patch+json') || contentType.startsWith('application/strategic-merge-patch+json')) {
      return { code: 200, body: this.write(r, mergePatch(old, patch) as Obj, old!) };
    }
    throw new HttpError(415, 'UnsupportedMediaType', `the stand-in does not take ${contentType} patches`);
  }

  private mustGet(r: Route): Obj {
    const o = this.store.get(rtKey(r.rt), r.namespace, r.name!);
    if (!o) throw new HttpError(404, 'NotFound', `${r.rt.plural} "${r.name}" not found`);
    return o;
  }

  private create(r: Route, body: unknown): Obj {
    const o = body as Obj;
    if (typeof o !== 'object' || o === null || typeof o.metadata?.name !== 'string') throw new HttpError(422, 'Invalid', 'metadata.name: Required value');
    if (r.name && r.name !== o.metadata.name) throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    if (r.rt.namespaced) o.metadata.namespace = r.namespace ?? 'default';
    o.apiVersion = r.rt.group ? `${r.rt.group}/${r.rt.version}` : r.rt.version;
    o.kind = r.rt.kind;
    const admitted = this.admit(r, o, undefined);
    const created = this.store.create(rtKey(r.rt), admitted);
    if (r.rt.kind === 'CustomResourceDefinition') this.serve(created);
    return created;
  }

  /** PUT/PATCH result: resourceVersion precondition, subresource rules, admission, store. */
  private write(r: Route, next: Obj, old: Obj): Obj {
    const want = next.metadata?.resourceVersion;
    if (want !== undefined && want !== old.metadata.resourceVersion) {
      throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${r.rt.plural}.${r.rt.group} "${old.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (r.sub && r.sub !== 'status') throw new HttpError(404, 'NotFound', `no subresource ${r.sub}`);
    let o: Obj = { ...next, apiVersion: old.apiVersion, kind: old.kind, metadata: { ...next.metadata, name: old.metadata.name, ...(old.metadata.namespace ? { namespace: old.metadata.namespace } : {}) } };
    if (r.rt.statusSubresource) {
      if (r.sub === 'status') {
        o = { ...old, metadata: { ...old.metadata }, status: o.status };
      } else {
        const { status: _ignored, ...rest } = o;
        o = (old.status !== undefined ? { ...rest, status: old.status } : rest) as Obj;
      }
    }
    return this.store.update(rtKey(r.rt), this.admit(r, o, old));
  }

  private admit(r: Route, o: Obj, old: Obj | undefined): Obj {
    if (r.rt.kind === 'Secret' && o.stringData) {
      const data = { ...(o.data as Record<string, string> | undefined) };
      for (const [k, v] of Object.entries(o.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
      o = { ...o, data };
      delete o.stringData;
    }
    const schema = this.schemas.get(rtKey(r.rt));
    if (schema) return admitCustom(schema, o, old);
    validateBuiltin(o);
    if (old) checkImmutable(o, old);
    return o;
  }

  /** An installed CRD starts serving its resource with its schema. */
  private serve(crd: Obj): void {
    const spec = crd.spec as { group: string; names: { plural: string; kind: string }; scope: string; versions: { name: string; served: boolean; schema?: { openAPIV3Schema: JSONSchemaProps }; subresources?: { status?: object } }[] };
    const v = spec.versions.find((x) => x.served)!;
    const rt: ResourceType = { group: spec.group, version: v.name, plural: spec.names.plural, kind: spec.names.kind, namespaced: spec.scope === 'Namespaced', statusSubresource: !!v.subresources?.status };
    this.store.register(rt);
    if (v.schema) this.schemas.set(rtKey(rt), v.schema.openAPIV3Schema);
  }

  private watch(r: Route, url: URL, res: http.ServerResponse): void {
    const key = rtKey(r.rt);
    const sel = selectorFilter(url.searchParams.get('labelSelector'));
    const filter = (o: Obj) => (r.namespace === undefined || o.metadata.namespace === r.namespace) && sel(o);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    this.open.add(res);
    const line = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    const rvParam = url.searchParams.get('resourceVersion');
    const from = rvParam ? Number(rvParam) : 0;
    const backlog = from > 0 ? this.store.since(key, from) : this.store.list(key, r.namespace).filter(filter).map((object) => ({ type: 'ADDED' as const, object, rv: 0 }));
    if (backlog === undefined) {
      line('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${from}` });
      this.open.delete(res);
      res.end();
      return;
    }
    for (const e of backlog) if (filter(e.object)) line(e.type, e.object);
    const stop = this.store.watch(key, filter, (e) => line(e.type, e.object));
    const timer = setTimeout(() => res.end(), this.watchTimeoutMs);
    res.on('close', () => {
      stop();
      clearTimeout(timer);
      this.open.delete(res);
    });
  }
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  if (method === 'GET') return watch ? 'watch' : named ? 'get' : 'list';
  return { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[method] ?? method.toLowerCase();
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string, contentType: string): unknown {
  try {
    return contentType.includes('yaml') ? parseYaml(raw) : JSON.parse(raw);
  } catch (e) {
    throw new HttpError(400, 'BadRequest', `cannot parse body: ${(e as Error).message}`);
  }
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
