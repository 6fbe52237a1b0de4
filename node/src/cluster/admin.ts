import type { AdminApi, MemberStatusRow } from '../api/http/admin_api.js';
import { futureOwners, ownership, type Ring } from '../ring/ring.js';
import type { Plan } from '../ring/membership.js';
import type { HandoffManager, TransferRow } from '../vnode/handoff_manager.js';
import type { VnodeManager } from '../vnode/manager.js';
import type { RingManager } from './ring_manager.js';
import { TransportError, type Transport } from './transport.js';

/**
 * The cluster half of the admin API (riak-admin cluster / member-status /
 * ring-status / transfers), on top of the ring manager and handoff manager.
 */
export class AdminError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

export const DEFAULT_CLUSTER_PORT = 8099;

/** `host:port`, `name@host:port` or `name@host` (default cluster port) -> host:port of a cluster listener. */
export function clusterAddressOf(target: string): string {
  const at = target.lastIndexOf('@');
  const hostPart = at >= 0 ? target.slice(at + 1) : target;
  if (/^(\[[^\]]+\]|[^:]+):\d+$/.test(hostPart)) return hostPart;
  if (/^[A-Za-z0-9._-]+$/.test(hostPart)) return `${hostPart}:${DEFAULT_CLUSTER_PORT}`;
  throw new AdminError(`cannot tell the cluster address of "${target}"; give host:port of its cluster listener`, 400);
}

const pct = (x: number) => Math.round(x * 1000) / 10;

export function planView(p: Plan, ring: Ring): unknown {
  const now = ownership(ring.owners, Object.keys(p.ring.members));
  const after = ownership(p.owners, Object.keys(p.ring.members));
  return {
    changes: p.changes,
    transfers: p.transfers,
    reassigned: p.reassigned,
    ownership: [...after].map(([name, share]) => ({ name, ringPctNow: pct(now.get(name) ?? 0), ringPctAfter: pct(share) })),
    ...(p.resize ? { resize: p.resize } : {}),
    summary: p.resize
      ? `ring resize ${p.resize.from} -> ${p.resize.to}: all ${p.resize.partitions} partitions are copied key by key into the new ring, which then takes over`
      : `${p.changes.length} staged change(s); ${p.transfers.length} partition(s) will be handed off${p.reassigned.length ? `, ${p.reassigned.length} reassigned from removed nodes` : ''}`,
  };
}

/**
 * What the operator reads when a join fails: the refusal from the joinee's
 * point of view (its handshake details name *us* as "peer"), with the fix.
 */
function joinError(e: TransportError, target: string, address: string): AdminError {
  if (e.code === 'refused' && e.remote) {
    const why: Record<string, string> = {
      bad_secret: 'wrong cluster secret (--cluster-secret must be the same on every node)',
      secret_required: `cluster secret mismatch: one side has --cluster-secret and the other not (${e.remote.message})`,
      cluster_mismatch: `cluster name mismatch (--cluster-name): ${e.remote.message}`,
    };
    return new AdminError(`join refused by ${target} at ${address}: ${why[e.remote.code] ?? `${e.remote.code}: ${e.remote.message}`}`, 409);
  }
  if (e.remote) return new AdminError(e.remote.message, 409);
  // "HTTP" read as a frame length: the address is an HTTP listener, not the cluster port
  if (e.message.includes('frame length 1213486160 ')) {
    return new AdminError(`cannot join through ${address}: that is an HTTP port; give the cluster port of ${target} (--cluster-port, default ${DEFAULT_CLUSTER_PORT})`, 400);
  }
  return new AdminError(`cannot reach ${target} at ${address}: ${e.message}`, 503);
}

export interface ClusterAdminDeps {
  ring: RingManager;
  transport: Transport;
  handoff: HandoffManager;
  vnodes: VnodeManager;
  isUp: (node: string) => boolean;
  ringSize: () => number;
}

export function clusterAdmin(d: ClusterAdminDeps): Required<Pick<AdminApi, 'memberStatus' | 'ringStatus' | 'transfers' | 'getTransferLimit' | 'setTransferLimit' | 'join' | 'leave' | 'forceRemove' | 'plan' | 'commit' | 'clear' | 'resize' | 'resizeAbort' | 'repair'>> & { vnodeStatus(): Promise<unknown> } {
  const self = d.ring.self;
  return {
    async memberStatus() {
      const r = d.ring.current;
      const now = ownership(r.owners, Object.keys(r.members));
      const later = ownership(futureOwners(r), Object.keys(r.members));
      const members: MemberStatusRow[] = Object.values(r.members)
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((m) => ({
          name: m.name,
          status: d.isUp(m.name) ? m.status : 'down',
          ringPct: pct(now.get(m.name) ?? 0),
          pendingPct: pct(later.get(m.name) ?? 0),
          reachable: d.isUp(m.name),
        }));
      return { members };
    },
    async ringStatus() {
      const r = d.ring.current;
      const unreachable = Object.keys(r.members).filter((m) => !d.isUp(m));
      return { claimant: r.claimant, ringReady: unreachable.length === 0 && r.staged.length === 0, ringSize: r.ringSize, createdRingSize: r.createdRingSize, pendingOwnershipTransfers: r.next.length, unreachable, staged: r.staged, version: r.version, ...(r.resize ? { resize: { to: r.resize.size, pendingPartitions: r.resize.pending.length } } : {}) };
    },
    async transfers() {
      const r = d.ring.current;
      const rows: TransferRow[] = [];
      const errors: { node: string; error: string }[] = [];
      await Promise.all(
        Object.values(r.members).map(async (m) => {
          if (m.name === self) return void rows.push(...d.handoff.localRows());
          try {
            rows.push(...((await d.transport.request({ name: m.name, address: m.clusterAddress }, 'handoff_status', {}, { timeoutMs: 2000 })) as TransferRow[]));
          } catch (e) {
            errors.push({ node: m.name, error: (e as Error).message });
          }
        }),
      );
      // committed ownership transfers whose sender has not picked them up yet
      for (const t of r.next) {
        if (!rows.some((x) => x.type === 'ownership' && x.partition === t.partition && x.to === t.to)) {
          rows.push({ type: 'ownership', ...t, status: 'waiting', objects: 0, bytes: 0, elapsedS: 0, rateBytesPerS: 0, attempts: 0 });
        }
      }
      rows.sort((a, b) => (a.status === b.status ? a.partition - b.partition : a.status === 'active' ? -1 : 1));
      return { active: rows.filter((x) => x.status === 'active'), pending: rows.filter((x) => x.status !== 'active'), unreachable: errors };
    },
    async getTransferLimit() {
      return { limit: d.handoff.limit };
    },
    async setTransferLimit(limit: number) {
      if (!Number.isInteger(limit) || limit < 0 || limit > 64) throw new AdminError('transfer limit must be an integer between 0 and 64', 400);
      d.handoff.limit = limit;
      return { limit };
    },
    async join(target: string) {
      const r = d.ring.current;
      if (Object.keys(r.members).length > 1) throw new AdminError(`this node is already a member of a ${Object.keys(r.members).length}-node cluster; leave it first`, 409);
      const address = clusterAddressOf(target);
      const me = r.members[self]!;
      const contact = { name: `?${address}`, address };
      try {
        const res = (await d.transport.request(contact, 'cluster_join_request', { member: { ...me, status: 'joining' }, ringSize: r.createdRingSize })) as { ring: Ring };
        d.ring.adopt(res.ring);
      } catch (e) {
        if (e instanceof TransportError) throw joinError(e, target, address);
        throw e;
      } finally {
        d.transport.forget(contact.name);
      }
      return { staged: { action: 'join', node: self }, claimant: d.ring.current.claimant, message: `join of ${self} staged; run 'rkv admin cluster plan' then 'cluster commit'` };
    },
    async leave(node: string | undefined) {
      await d.ring.claimantOp({ op: 'leave', node: node ?? self });
      return { staged: { action: 'leave', node: node ?? self } };
    },
    async forceRemove(node: string) {
      await d.ring.claimantOp({ op: 'force_remove', node, by: self });
      return { staged: { action: 'force-remove', node } };
    },
    async plan() {
      return planView((await d.ring.claimantOp({ op: 'plan' })) as Plan, d.ring.current);
    },
    async commit() {
      await d.ring.claimantOp({ op: 'commit' });
      return { committed: true, pendingTransfers: d.ring.current.next.length };
    },
    async clear() {
      await d.ring.claimantOp({ op: 'clear' });
      return { cleared: true };
    },
    async repair(partition: number) {
      const r = d.ring.current;
      const owner = r.owners[partition];
      if (!Number.isInteger(partition) || owner === undefined) throw new AdminError(`partition must be between 0 and ${r.ringSize - 1}`, 400);
      if (owner === self) return d.handoff.requestRepair(partition);
      try {
        return await d.transport.request(d.ring.peer(owner), 'repair_start', { partition });
      } catch (e) {
        if (e instanceof TransportError) throw new AdminError(e.remote?.message ?? `owner ${owner} of partition ${partition} is unreachable: ${e.message}`, e.remote ? 409 : 503);
        throw e;
      }
    },
    async resize(size: number) {
      await d.ring.claimantOp({ op: 'resize', size, by: self });
      return { staged: { action: 'resize', size }, message: `resize to ${size} staged; run 'rkv admin cluster plan' then 'cluster commit'` };
    },
    async resizeAbort() {
      await d.ring.claimantOp({ op: 'resize_abort' });
      return { aborted: true, ringSize: d.ring.current.ringSize };
    },
    async vnodeStatus() {
      const r = d.ring.current;
      const rows: { partition: number; owner: string; primary: boolean; entries: number }[] = [];
      for (let p = 0; p < r.ringSize; p++) {
        const entries = await d.vnodes.vnode(p).countEntries();
        if (entries > 0 || r.owners[p] === self) rows.push({ partition: p, owner: r.owners[p]!, primary: r.owners[p] === self, entries });
      }
      return { node: self, vnodes: rows };
    },
  };
}
