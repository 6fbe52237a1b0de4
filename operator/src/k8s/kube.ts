import type { KubeObject } from '../reconcile/types.js';
import { MANAGER } from '../reconcile/names.js';
import { isConflict, isNotFound, type Rest } from './rest.js';
import { pathOf, resourceOfKind, type Resource } from './resources.js';

/**
 * Object-level verbs on top of the REST client. Owned objects are written
 * with server-side apply under the field manager `rkv-operator` (force: the
 * operator owns what it applies); small targeted changes (replicas, PVC
 * size, finalizers, status) are merge patches under the same manager.
 */
export interface ListOf<T> {
  metadata?: { resourceVersion?: string };
  items: T[];
}

/** How long an answer about which resources an API group serves is kept (CRDs come and go rarely). */
const DISCOVERY_TTL_MS = 60_000;

export class Kube {
  private readonly discovered = new Map<string, { at: number; plurals: Set<string> }>();

  constructor(
    readonly rest: Rest,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether the API server serves every one of the resources (API discovery,
   * `GET /apis/<group>/<version>`; a 404 means the group is not installed).
   */
  async serves(resources: readonly Resource[]): Promise<boolean> {
    for (const r of resources) {
      const gv = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
      let d = this.discovered.get(gv);
      if (!d || this.now() - d.at > DISCOVERY_TTL_MS) {
        let plurals = new Set<string>();
        try {
          const list = await this.rest.request<{ resources?: { name?: string }[] }>('GET', gv);
          plurals = new Set((list?.resources ?? []).map((x) => x.name ?? ''));
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        d = { at: this.now(), plurals };
        this.discovered.set(gv, d);
      }
      if (!d.plurals.has(r.plural)) return false;
    }
    return true;
  }

  async get<T>(r: Resource, namespace: string, name: string): Promise<T | undefined> {
    try {
      return await this.rest.request<T>('GET', pathOf(r, namespace, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  list<T>(r: Resource, namespace?: string, labelSelector?: string): Promise<ListOf<T>> {
    return this.rest.request<ListOf<T>>('GET', pathOf(r, namespace), { query: { labelSelector } });
  }

  apply<T>(o: KubeObject): Promise<T> {
    const r = resourceOfKind(o.kind ?? '');
    return this.rest.request<T>('PATCH', pathOf(r, o.metadata?.namespace, o.metadata?.name), {
      body: o,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: MANAGER, force: 'true' },
    });
  }

  /** Creates the object unless one of that name exists (returns false then). */
  async createIfMissing(o: KubeObject): Promise<boolean> {
    const r = resourceOfKind(o.kind ?? '');
    try {
      await this.rest.request('POST', pathOf(r, o.metadata?.namespace), { body: o, query: { fieldManager: MANAGER } });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  create<T>(r: Resource, namespace: string, o: unknown): Promise<T> {
    return this.rest.request<T>('POST', pathOf(r, namespace), { body: o, query: { fieldManager: MANAGER } });
  }

  replace<T>(r: Resource, namespace: string, name: string, o: unknown): Promise<T> {
    return this.rest.request<T>('PUT', pathOf(r, namespace, name), { body: o, query: { fieldManager: MANAGER } });
  }

  mergePatch<T>(r: Resource, namespace: string, name: string, patch: unknown, sub?: 'status'): Promise<T> {
    return this.rest.request<T>('PATCH', pathOf(r, namespace, name, sub), {
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager: MANAGER },
    });
  }

  /** Deletes; an object already gone counts as deleted. */
  async delete(r: Resource, namespace: string, name: string): Promise<void> {
    try {
      await this.rest.request('DELETE', pathOf(r, namespace, name), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
