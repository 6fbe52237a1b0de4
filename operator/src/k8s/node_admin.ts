import type { Pod } from 'kubernetes-types/core/v1.js';
import type { RkvCluster } from '../crd/spec.js';
import { podHost, refOf } from '../reconcile/names.js';
import type { AdminCall, NodeView, RingView, MemberRow } from '../reconcile/types.js';

/**
 * The nodes' admin API (SPEC section 4), as the operator uses it, and the one
 * place that decides how a pod is reached. In a cluster that is the pod's
 * stable DNS name; `ip` uses status.podIP (no wait for DNS records, and what
 * the operator e2e tests use: each pod there is a process on its own loopback
 * address).
 */
export interface PodEndpoint {
  /** base URL of the HTTP/admin API */
  http: string;
  /** host:port of the cluster transport (what `cluster join` is given) */
  cluster: string;
}

export type PodResolver = (cluster: RkvCluster, pod: Pod) => PodEndpoint | undefined;

const endpoint = (host: string, c: RkvCluster): PodEndpoint => {
  const h = host.includes(':') ? `[${host}]` : host;
  return { http: `http://${h}:${c.spec.ports.http}`, cluster: `${h}:${c.spec.ports.cluster}` };
};

export const resolvers: Record<'dns' | 'ip', PodResolver> = {
  dns: (c, pod) => (pod.metadata?.name ? endpoint(podHost(refOf(c), pod.metadata.name), c) : undefined),
  ip: (c, pod) => (pod.status?.podIP ? endpoint(pod.status.podIP, c) : undefined),
};

export class AdminCallError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'AdminCallError';
  }
}

export class NodeAdmin {
  constructor(private readonly timeoutMs = 5000) {}

  private async call<T>(ep: PodEndpoint, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${ep.http}${path}`, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (e) {
      throw new AdminCallError(`${method} ${ep.http}${path}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const msg = (parsed as { message?: string } | undefined)?.message ?? text.slice(0, 200);
      throw new AdminCallError(`${method} ${path} on ${ep.http}: ${res.status} ${msg}`, res.status);
    }
    return parsed as T;
  }

  /** member-status, ring-status and transfer-limit of one node. */
  async view(ep: PodEndpoint): Promise<NodeView> {
    const [ms, ring, limit] = await Promise.all([
      this.call<{ members: MemberRow[] }>(ep, 'GET', '/admin/member-status'),
      this.call<RingView>(ep, 'GET', '/admin/ring-status'),
      this.call<{ limit: number }>(ep, 'GET', '/admin/transfer-limit').catch(() => undefined),
    ]);
    return {
      members: ms.members,
      ring: { ...ring, staged: ring.staged ?? [], unreachable: ring.unreachable ?? [] },
      ...(limit ? { transferLimit: limit.limit } : {}),
    };
  }

  /** One admin call; `seed` is the endpoint of the node to join through (join only). */
  async run(ep: PodEndpoint, call: AdminCall, seed?: PodEndpoint): Promise<unknown> {
    switch (call.op) {
      case 'join':
        if (!seed) throw new AdminCallError(`join needs the seed's address`);
        return this.call(ep, 'POST', '/admin/cluster/join', { node: seed.cluster });
      case 'leave':
        return this.call(ep, 'POST', '/admin/cluster/leave', { node: call.node });
      case 'plan':
        return this.call(ep, 'GET', '/admin/cluster/plan');
      case 'commit':
        return this.call(ep, 'POST', '/admin/cluster/commit');
      case 'resize':
        return this.call(ep, 'POST', '/admin/ring/resize', { size: call.size });
      case 'transferLimit':
        return this.call(ep, 'PUT', '/admin/transfer-limit', { limit: call.limit });
    }
  }
}
