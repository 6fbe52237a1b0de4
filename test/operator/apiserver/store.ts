import { randomUUID } from 'node:crypto';

/**
 * The stand-in's object store: one resourceVersion counter for everything
 * (as etcd's revision), a bounded event history per resource type for
 * watches (older resourceVersions get 410 Gone), generation bumps on spec
 * changes, finalizers and deletionTimestamp, and background garbage
 * collection of dependents through ownerReferences.
 */
export type Obj = Record<string, unknown> & { metadata: Meta };
export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: { uid: string; kind: string; name: string }[];
  [k: string]: unknown;
}

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** writes to the main resource ignore status; /status writes only status */
  statusSubresource: boolean;
  /** deletion waits for the kubelet (pods) instead of removing at once */
  graceful?: boolean;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  object: Obj;
}

type Watcher = { rt: string; filter: (o: Obj) => boolean; send: (e: WatchEvent) => void };

export const rtKey = (rt: Pick<ResourceType, 'group' | 'plural'>) => `${rt.group}/${rt.plural}`;
const objKey = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;
const HISTORY = 400;

export class Store {
  private rv = 1000;
  private readonly data = new Map<string, Map<string, Obj>>();
  private readonly history = new Map<string, WatchEvent[]>();
  private readonly oldest = new Map<string, number>();
  private readonly watchers = new Set<Watcher>();
  private readonly listeners: ((rt: string, e: WatchEvent) => void)[] = [];
  readonly types = new Map<string, ResourceType>();

  register(rt: ResourceType): void {
    this.types.set(rtKey(rt), rt);
  }

  get revision(): number {
    return this.rv;
  }

  onChange(fn: (rt: string, e: WatchEvent) => void): void {
    this.listeners.push(fn);
  }

  private bucket(rt: string): Map<string, Obj> {
    let b = this.data.get(rt);
    if (!b) this.data.set(rt, (b = new Map()));
    return b;
  }

  get(rt: string, ns: string | undefined, name: string): Obj | undefined {
    const o = this.bucket(rt).get(objKey(ns, name));
    return o && structuredClone(o);
  }

  list(rt: string, ns?: string, filter: (o: Obj) => boolean = () => true): Obj[] {
    return [...this.bucket(rt).values()].filter((o) => (ns === undefined || o.metadata.namespace === ns) && filter(o)).map((o) => structuredClone(o));
  }

  private emit(rt: string, type: WatchEvent['type'], o: Obj): void {
    const e: WatchEvent = { type, rv: Number(o.metadata.resourceVersion), object: structuredClone(o) };
    const h = this.history.get(rt) ?? [];
    h.push(e);
    if (h.length > HISTORY) this.oldest.set(rt, h.shift()!.rv);
    this.history.set(rt, h);
    for (const w of this.watchers) if (w.rt === rt && w.filter(e.object)) w.send(e);
    for (const fn of this.listeners) fn(rt, e);
  }

  create(rt: string, o: Obj): Obj {
    const b = this.bucket(rt);
    const k = objKey(o.metadata.namespace, o.metadata.name);
    if (b.has(k)) throw new StoreError(409, 'AlreadyExists', `${this.types.get(rt)?.plural ?? rt} "${o.metadata.name}" already exists`);
    const stored: Obj = structuredClone(o);
    stored.metadata = {
      ...stored.metadata,
      uid: randomUUID(),
      resourceVersion: String(++this.rv),
      generation: 1,
      creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    delete stored.metadata.deletionTimestamp;
    b.set(k, stored);
    this.emit(rt, 'ADDED', stored);
    return structuredClone(stored);
  }

  /** Replaces an existing object (the caller has merged and validated it). */
  update(rt: string, o: Obj): Obj {
    const b = this.bucket(rt);
    const k = objKey(o.metadata.namespace, o.metadata.name);
    const cur = b.get(k);
    if (!cur) throw new StoreError(404, 'NotFound', `${this.types.get(rt)?.plural ?? rt} "${o.metadata.name}" not found`);
    const specChanged = JSON.stringify(withoutMetaStatus(cur)) !== JSON.stringify(withoutMetaStatus(o));
    const stored: Obj = structuredClone(o);
    stored.metadata = {
      ...stored.metadata,
      uid: cur.metadata.uid,
      creationTimestamp: cur.metadata.creationTimestamp,
      generation: (cur.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      resourceVersion: String(++this.rv),
      ...(cur.metadata.deletionTimestamp ? { deletionTimestamp: cur.metadata.deletionTimestamp } : {}),
    };
    if (stored.metadata.deletionTimestamp && !stored.metadata.finalizers?.length && !this.types.get(rt)?.graceful) {
      this.remove(rt, stored);
      return structuredClone(stored);
    }
    b.set(k, stored);
    this.emit(rt, 'MODIFIED', stored);
    return structuredClone(stored);
  }

  /** DELETE: finalizers (or a graceful kind) mark the object; otherwise it goes at once. */
  delete(rt: string, ns: string | undefined, name: string): Obj {
    const cur = this.bucket(rt).get(objKey(ns, name));
    if (!cur) throw new StoreError(404, 'NotFound', `${this.types.get(rt)?.plural ?? rt} "${name}" not found`);
    if (cur.metadata.finalizers?.length || this.types.get(rt)?.graceful) {
      if (cur.metadata.deletionTimestamp) return structuredClone(cur);
      const marked = structuredClone(cur);
      marked.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      marked.metadata.resourceVersion = String(++this.rv);
      this.bucket(rt).set(objKey(ns, name), marked);
      this.emit(rt, 'MODIFIED', marked);
      return structuredClone(marked);
    }
    this.remove(rt, cur);
    return structuredClone(cur);
  }

  /** Removes the object for good and collects its dependents (background propagation). */
  remove(rt: string, o: Obj): void {
    const b = this.bucket(rt);
    const k = objKey(o.metadata.namespace, o.metadata.name);
    if (!b.delete(k)) return;
    const gone = { ...structuredClone(o), metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    this.emit(rt, 'DELETED', gone);
    const uid = o.metadata.uid;
    for (const [drt, bucket] of this.data) {
      for (const d of [...bucket.values()]) {
        if (d.metadata.ownerReferences?.some((r) => r.uid === uid)) {
          try {
            this.delete(drt, d.metadata.namespace, d.metadata.name);
          } catch {
            /* already gone */
          }
        }
      }
    }
  }

  /** Events after `rv` for a watch, or undefined when that history is gone (410). */
  since(rt: string, rv: number): WatchEvent[] | undefined {
    if (rv < (this.oldest.get(rt) ?? 0)) return undefined;
    return (this.history.get(rt) ?? []).filter((e) => e.rv > rv);
  }

  /** Drops the watch history, so every watch that resumes gets 410 Gone (tests the relist path). */
  compact(): void {
    for (const [rt, h] of this.history) {
      this.oldest.set(rt, this.rv + 1);
      h.length = 0;
    }
  }

  watch(rt: string, filter: (o: Obj) => boolean, send: (e: WatchEvent) => void): () => void {
    const w: Watcher = { rt, filter, send };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }
}

function withoutMetaStatus(o: Obj): unknown {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

export class StoreError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
