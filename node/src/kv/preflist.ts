import { partitionOfHash, replicaPartitions } from '../ring/chash.js';
import type { Ring } from '../ring/ring.js';

/** One replica a coordinator talks to: the vnode for `partition` on `node`. */
export interface Target {
  partition: number;
  node: string;
  /** false for a fallback standing in for a down primary (then `for` is that primary's node) */
  primary: boolean;
  for?: string;
  /**
   * ring size `partition` belongs to. A coordinator stamps its targets with the
   * ring it computed them from, so a ring that switches size (a resize
   * completing) while the request is in flight cannot send the partition number
   * of one ring to the vnode of another.
   */
  ringSize?: number;
}

/**
 * The annotated preference list (riak_core_apl:get_apl_ann): the n partitions
 * after the key's hash, each on its owner when the owner is up; a down owner is
 * replaced by a fallback, the next up node clockwise (preferring nodes not
 * already in the list). Pure: the caller passes the ring and the set of up nodes.
 */
export function preflist(ring: Ring, hash32: number, n: number, up: ReadonlySet<string>): Target[] {
  const first = partitionOfHash(hash32, ring.ringSize);
  const parts = replicaPartitions(first, ring.ringSize, n);
  const out: Target[] = [];
  // allocated only when a primary is down: the common case is on every request's path
  let downPrimaries: { partition: number; owner: string }[] | undefined;
  for (const p of parts) {
    const owner = ring.owners[p]!;
    if (up.has(owner)) out.push({ partition: p, node: owner, primary: true });
    else (downPrimaries ??= []).push({ partition: p, owner });
  }
  if (!downPrimaries) return out;
  const used = new Set(out.map((t) => t.node));
  // Fallback candidates: owners of the partitions after the preference list, in ring order;
  // nodes not already holding a replica first, then (small clusters) those that do,
  // on another vnode, so a 3-node cluster with one node down still writes 3 copies.
  const fresh: string[] = [];
  const reused: string[] = [];
  for (let i = parts.length; i < ring.ringSize + parts.length; i++) {
    const owner = ring.owners[(first + i) % ring.ringSize]!;
    if (!up.has(owner) || fresh.includes(owner) || reused.includes(owner)) continue;
    (used.has(owner) ? reused : fresh).push(owner);
  }
  const candidates = [...fresh, ...reused];
  for (const d of downPrimaries) {
    const node = candidates.shift();
    if (node === undefined) break;
    out.push({ partition: d.partition, node, primary: false, for: d.owner });
  }
  return out;
}
