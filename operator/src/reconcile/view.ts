import { memberName, ordinalOf, podOfMember, type ClusterRef } from './names.js';
import type { MemberRow, PodObservation, RingView } from './types.js';

/**
 * Which cluster the pods form, as the nodes themselves report it. The view
 * with the most members wins (ties: lowest ordinal), taken only from pods
 * the caller trusts as sources: a node that has finished leaving reports a
 * cluster of one, and must never be the witness that the others left.
 */
export interface ClusterView {
  /** pod whose admin API answered with this view */
  source: string;
  members: MemberRow[];
  ring: RingView;
  /** members that are this cluster's pods, by pod name */
  memberPods: Map<string, MemberRow>;
  /** members that are not pods of this cluster */
  foreign: MemberRow[];
  /** no node knows of any other member yet */
  unformed: boolean;
}

export function deriveView(ref: ClusterRef, pods: readonly PodObservation[], exclude: ReadonlySet<string> = new Set()): ClusterView | undefined {
  let best: PodObservation | undefined;
  for (const p of pods) {
    if (!p.node || p.terminating || exclude.has(p.name)) continue;
    // a node always lists itself; one that does not is mid-restart and not a witness
    if (!p.node.members.some((m) => m.name === memberName(ref, p.name))) continue;
    if (!best || p.node.members.length > best.node!.members.length || (p.node.members.length === best.node!.members.length && p.ordinal < best.ordinal)) best = p;
  }
  if (!best?.node) return undefined;
  const memberPods = new Map<string, MemberRow>();
  const foreign: MemberRow[] = [];
  for (const m of best.node.members) {
    const pod = podOfMember(ref, m.name);
    if (pod === undefined) foreign.push(m);
    else memberPods.set(pod, m);
  }
  return { source: best.name, members: best.node.members, ring: best.node.ring, memberPods, foreign, unformed: best.node.members.length === 1 };
}

/** Ownership handoffs (and resize copies) still to run. */
export function pendingTransfers(v: ClusterView): number {
  return v.ring.pendingOwnershipTransfers + (v.ring.resize?.pendingPartitions ?? 0);
}

/** Nothing staged, nothing moving, every member valid and reachable with its final share. */
export function settled(v: ClusterView): boolean {
  return v.ring.staged.length === 0 && pendingTransfers(v) === 0 && !v.ring.resize
    && v.members.every((m) => m.status === 'valid' && m.reachable && m.ringPct === m.pendingPct);
}

/** A pod that answers as a cluster of its own (fresh, or done leaving): it can be joined. */
export function isStandalone(ref: ClusterRef, p: PodObservation): boolean {
  return !!p.node && p.node.members.length === 1 && p.node.members[0]!.name === memberName(ref, p.name);
}

export function sortByOrdinal(ref: ClusterRef, pods: string[], dir: 1 | -1 = 1): string[] {
  return [...pods].sort((a, b) => dir * ((ordinalOf(ref, a) ?? 0) - (ordinalOf(ref, b) ?? 0)));
}
