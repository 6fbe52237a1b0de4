import { claim, transfers } from './claim.js';
import { isValidRingSize } from './chash.js';
import type { Member, PendingTransfer, Ring, StagedChange } from './ring.js';

/**
 * Membership changes as pure transactions on the ring (riak_core_claimant's
 * stage/plan/commit): each returns a new ring or throws a MembershipError with
 * a message for the operator. Only the claimant applies them; the ring manager
 * persists and gossips the result.
 */
export class MembershipError extends Error {
  /** HTTP status for the admin API: the request conflicts with the cluster's state */
  readonly statusCode = 409;
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}

export const DEFAULT_TARGET_N = 4;

function bump(ring: Ring, changes: Partial<Ring>): Ring {
  return { ...ring, ...changes, version: ring.version + 1 };
}

function staged(ring: Ring, node: string): StagedChange | undefined {
  return ring.staged.find((s) => s.node === node);
}

function noResizeStaged(ring: Ring): void {
  if (ring.staged.some((s) => s.action === 'resize')) throw new MembershipError('a ring resize is staged; commit or clear it before staging membership changes', 'mixed_changes');
}

export function stageJoin(ring: Ring, joiner: Member, joinerRingSize: number): Ring {
  noResizeStaged(ring);
  if (joinerRingSize !== ring.createdRingSize) {
    throw new MembershipError(`ring size mismatch: ${joiner.name} was started with --ring-size ${joinerRingSize}, the cluster was created with ${ring.createdRingSize}`, 'ring_size_mismatch');
  }
  const existing = ring.members[joiner.name];
  if (existing && existing.status !== 'joining') throw new MembershipError(`${joiner.name} is already a member (${existing.status})`, 'already_member');
  if (existing) return ring;
  return bump(ring, {
    members: { ...ring.members, [joiner.name]: { ...joiner, status: 'joining' } },
    staged: [...ring.staged, { action: 'join', node: joiner.name }],
  });
}

export function stageLeave(ring: Ring, node: string): Ring {
  noResizeStaged(ring);
  const m = ring.members[node];
  if (!m) throw new MembershipError(`${node} is not a member of this cluster`, 'not_member');
  if (m.status !== 'valid') throw new MembershipError(`${node} cannot leave while ${m.status}`, 'bad_status');
  if (staged(ring, node)) throw new MembershipError(`${node} already has a staged change`, 'already_staged');
  const remaining = Object.values(ring.members).filter((x) => x.status === 'valid' && x.name !== node && !ring.staged.some((s) => s.node === x.name && s.action !== 'join'));
  if (remaining.length === 0) throw new MembershipError(`${node} is the last member; it cannot leave`, 'last_member');
  return bump(ring, { staged: [...ring.staged, { action: 'leave', node }] });
}

export function stageForceRemove(ring: Ring, node: string, self: string): Ring {
  const m = ring.members[node];
  if (!m) throw new MembershipError(`${node} is not a member of this cluster`, 'not_member');
  if (node === self) throw new MembershipError('a node cannot force-remove itself; use cluster leave', 'self_remove');
  if (staged(ring, node)?.action === 'force-remove') throw new MembershipError(`${node} is already staged for removal`, 'already_staged');
  return bump(ring, { staged: [...ring.staged.filter((s) => s.node !== node), { action: 'force-remove', node }] });
}

/** Drops every staged change; staged joiners go back to being standalone nodes. */
export function clearStaged(ring: Ring): Ring {
  if (ring.staged.length === 0) return ring;
  const members = { ...ring.members };
  for (const s of ring.staged) if (s.action === 'join') delete members[s.node];
  return bump(ring, { members, staged: [] });
}

export interface Plan {
  changes: StagedChange[];
  /** ownership once the plan's transfers complete */
  owners: string[];
  /** ownership handoffs the commit starts */
  transfers: PendingTransfer[];
  /** partitions taken from force-removed nodes without handoff */
  reassigned: PendingTransfer[];
  /** the ring right after commit */
  ring: Ring;
  /** for a staged resize: every old partition is copied key by key into the new ring */
  resize?: { from: number; to: number; partitions: number };
}

/** What `cluster commit` would do: the claimant's plan, computed from the staged changes. */
export function plan(ring: Ring, opts: { targetN?: number } = {}): Plan {
  if (ring.staged.length === 0) throw new MembershipError('there are no staged changes; stage a join, leave or force-remove first', 'nothing_staged');
  const resize = ring.staged.find((s) => s.action === 'resize');
  if (resize) {
    const r = planResize(ring, resize.size!, opts.targetN ?? DEFAULT_TARGET_N);
    return { changes: ring.staged, owners: r.owners, transfers: [], reassigned: [], ring: r.ring, resize: { from: ring.ringSize, to: resize.size!, partitions: ring.ringSize } };
  }
  if (ring.resize) throw new MembershipError(`a ring resize to ${ring.resize.size} is in progress; membership changes wait until it completes`, 'resize_in_progress');
  const removed = new Set(ring.staged.filter((s) => s.action === 'force-remove').map((s) => s.node));
  const leaving = new Set([
    ...ring.staged.filter((s) => s.action === 'leave').map((s) => s.node),
    ...Object.values(ring.members).filter((m) => m.status === 'leaving').map((m) => m.name),
  ]);
  const owning = Object.values(ring.members)
    .filter((m) => (m.status === 'valid' || m.status === 'joining') && !removed.has(m.name) && !leaving.has(m.name))
    .map((m) => m.name);
  if (owning.length === 0) throw new MembershipError('the plan would leave no member owning the ring', 'no_owners');

  // Force-removed nodes lose their partitions at once (they are gone); every other move is a handoff.
  const current = ring.owners.map((o) => o);
  const future = ring.owners.map((o, p) => ring.next.find((t) => t.partition === p)?.to ?? o);
  const target = claim(future, owning, { targetN: opts.targetN ?? DEFAULT_TARGET_N });
  const reassigned: PendingTransfer[] = [];
  for (let p = 0; p < current.length; p++) {
    if (removed.has(current[p]!)) {
      reassigned.push({ partition: p, from: current[p]!, to: target[p]! });
      current[p] = target[p]!;
    }
  }
  const moves = transfers(current, target).map((t) => ({ partition: t.partition, from: t.from, to: t.to }));

  const members: Record<string, Member> = {};
  for (const m of Object.values(ring.members)) {
    if (removed.has(m.name)) continue;
    if (m.status === 'joining') members[m.name] = { ...m, status: 'valid' };
    else if (leaving.has(m.name)) members[m.name] = { ...m, status: 'leaving' };
    else members[m.name] = m;
  }
  const claimant = members[ring.claimant]?.status === 'valid' ? ring.claimant : owning.slice().sort()[0]!;
  const committed = settleLeavers(bump(ring, { owners: current, members, next: moves, staged: [], claimant }));
  return { changes: ring.staged, owners: target, transfers: moves, reassigned, ring: committed };
}

export function commit(ring: Ring, opts: { targetN?: number } = {}): Ring {
  return plan(ring, opts).ring;
}

/**
 * A finished ownership handoff: the receiver becomes the owner. Returns the
 * ring unchanged when the transfer is unknown (a retried completion).
 */
export function completeTransfer(ring: Ring, t: PendingTransfer): Ring {
  const i = ring.next.findIndex((x) => x.partition === t.partition && x.from === t.from && x.to === t.to);
  if (i < 0) return ring;
  const owners = [...ring.owners];
  owners[t.partition] = t.to;
  const next = ring.next.filter((_, j) => j !== i);
  return settleLeavers(bump(ring, { owners, next }));
}

/** Leaving members that own nothing and send nothing become exiting. */
function settleLeavers(ring: Ring): Ring {
  let members = ring.members;
  for (const m of Object.values(ring.members)) {
    if (m.status !== 'leaving') continue;
    const owns = ring.owners.includes(m.name) || ring.next.some((t) => t.from === m.name);
    if (!owns) members = { ...members, [m.name]: { ...m, status: 'exiting' } };
  }
  return members === ring.members ? ring : { ...ring, members };
}

/**
 * A member restarted on other addresses (a new port, a new pod IP): its entry
 * is updated, with a new version, so every peer dials the new address.
 */
export function updateAddresses(ring: Ring, node: string, clusterAddress: string, httpAddress: string): Ring {
  const m = ring.members[node];
  if (!m) throw new MembershipError(`${node} is not a member of this cluster`, 'not_member');
  if (m.clusterAddress === clusterAddress && m.httpAddress === httpAddress) return ring;
  return bump(ring, { members: { ...ring.members, [node]: { ...m, clusterAddress, httpAddress } } });
}

/** An exiting member acknowledged it has left: it is dropped from the ring. */
export function removeExited(ring: Ring, node: string): Ring {
  if (ring.members[node]?.status !== 'exiting') return ring;
  const members = { ...ring.members };
  delete members[node];
  return bump(ring, { members });
}

/** The claimant could not be reached: the lowest-named reachable valid member takes over. */
export function takeOverClaimant(ring: Ring, self: string): Ring {
  if (ring.claimant === self || ring.members[self]?.status !== 'valid') return ring;
  return bump(ring, { claimant: self });
}

/**
 * Gossip merge of two copies of one cluster's ring: the higher version wins;
 * equal versions with different content are ordered by a content digest, so
 * every node picks the same ring whatever order copies arrive in.
 */
export function mergeRings(mine: Ring, theirs: Ring, digest: (r: Ring) => string): Ring {
  if (theirs.clusterId !== mine.clusterId) return mine;
  if (theirs.version !== mine.version) return theirs.version > mine.version ? theirs : mine;
  return digest(theirs) > digest(mine) ? theirs : mine;
}

/** Bucket properties are ring data: set at the claimant, spread with the ring. */
export function setBucketProps(ring: Ring, bucketId: string, props: Record<string, unknown>): Ring {
  const all = { ...(ring.bucketProps ?? {}) };
  all[bucketId] = { ...(all[bucketId] ?? {}), ...props };
  return bump(ring, { bucketProps: all });
}

/** Stages a ring resize; it is planned and committed like membership changes, but never together with them. */
export function stageResize(ring: Ring, size: number, by: string): Ring {
  if (!isValidRingSize(size)) throw new MembershipError(`ring size must be a power of two between 8 and 1024, got ${size}`, 'bad_ring_size');
  if (ring.resize) throw new MembershipError(`a resize to ${ring.resize.size} is already in progress; wait for it or run 'ring resize-abort'`, 'resize_in_progress');
  if (size === ring.ringSize) throw new MembershipError(`the ring already has ${size} partitions`, 'same_size');
  if (ring.next.length > 0) throw new MembershipError('ownership transfers are still pending; resize once `transfers` shows none', 'transfers_pending');
  if (ring.staged.some((s) => s.action !== 'resize')) throw new MembershipError('membership changes are staged; commit or clear them before staging a resize', 'mixed_changes');
  return bump(ring, { staged: [{ action: 'resize', node: by, size }] });
}

/** The current owners carried over to a ring of another size (each new partition inherits the old one covering it). */
export function projectOwners(owners: readonly string[], size: number): string[] {
  const old = owners.length;
  return Array.from({ length: size }, (_, q) => owners[size >= old ? Math.floor(q / (size / old)) : q * (old / size)]!);
}

export function planResize(ring: Ring, size: number, targetN: number): { owners: string[]; ring: Ring } {
  const members = Object.values(ring.members).filter((m) => m.status === 'valid').map((m) => m.name);
  const owners = claim(projectOwners(ring.owners, size), members, { targetN });
  const pending = Array.from({ length: ring.ringSize }, (_, p) => p);
  return { owners, ring: bump(ring, { staged: [], resize: { size, owners, pending } }) };
}

/** One old partition's data has been copied into the new ring; the last one switches the ring. */
export function completeResizePartition(ring: Ring, partition: number): Ring {
  const r = ring.resize;
  if (!r || !r.pending.includes(partition)) return ring;
  const pending = r.pending.filter((p) => p !== partition);
  if (pending.length > 0) return bump(ring, { resize: { ...r, pending } });
  const switched: Ring = { ...ring, ringSize: r.size, owners: r.owners, version: ring.version + 1, resizedAtVersion: ring.version + 1 };
  delete switched.resize;
  return switched;
}

/** Drops a resize that has not switched yet; the old ring never stopped being authoritative. */
export function abortResize(ring: Ring): Ring {
  if (!ring.resize && !ring.staged.some((s) => s.action === 'resize')) throw new MembershipError('no ring resize is staged or in progress', 'no_resize');
  const out = bump(ring, { staged: ring.staged.filter((s) => s.action !== 'resize') });
  delete out.resize;
  return out;
}
