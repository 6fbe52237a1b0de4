/**
 * The ring: which member owns each partition, who is joining or leaving, and
 * which ownership transfers are pending. Pure data plus pure helpers; the ring
 * manager (cluster/ring_manager.ts) persists and gossips it.
 */
export type MemberStatus = 'joining' | 'valid' | 'leaving' | 'exiting' | 'down';

export interface Member {
  name: string;
  status: MemberStatus;
  /** host:port of the member's cluster transport */
  clusterAddress: string;
  /** host:port of the member's HTTP API */
  httpAddress: string;
}

/** An ownership handoff the claimant has committed: `from` still owns the partition until it completes. */
export interface PendingTransfer {
  partition: number;
  from: string;
  to: string;
}

export type StagedAction = 'join' | 'leave' | 'force-remove' | 'resize';

export interface StagedChange {
  action: StagedAction;
  /** the member concerned (for a resize: the claimant that staged it) */
  node: string;
  /** the new ring size, for a resize */
  size?: number;
}

/**
 * A committed ring resize in progress: the old ring stays authoritative for
 * reads and writes while each old partition's data is copied key by key into
 * the vnodes of the new ring; when none is left, the ring switches size.
 */
export interface RingResize {
  size: number;
  /** owners of the new ring's partitions */
  owners: string[];
  /** old partitions whose data has not been copied yet */
  pending: number[];
}

export interface Ring {
  /** minted with a fresh ring; rings of different clusters never merge */
  clusterId: string;
  clusterName: string;
  /** ring size this data dir was created with; a different --ring-size is refused */
  createdRingSize: number;
  ringSize: number;
  /** owners[p] = member name owning partition p */
  owners: string[];
  members: Record<string, Member>;
  /** the one member that stages, plans and commits changes */
  claimant: string;
  /** pending ownership transfers (riak_core_ring's `next`) */
  next: PendingTransfer[];
  /** changes staged by `cluster join/leave/force-remove`, applied by `cluster commit` */
  staged: StagedChange[];
  resize?: RingResize;
  /** when the last resize switched the ring (ring version), so old-size data can be dropped after a grace period */
  resizedAtVersion?: number;
  /** bucket properties set through the API, by base64 bucket name (cluster-wide, as riak's ring carried them) */
  bucketProps?: Record<string, Record<string, unknown>>;
  /** bumped by every change; the higher version wins in gossip */
  version: number;
}

export function freshRing(clusterId: string, clusterName: string, self: Member, ringSize: number): Ring {
  return {
    clusterId,
    clusterName,
    createdRingSize: ringSize,
    ringSize,
    owners: new Array<string>(ringSize).fill(self.name),
    members: { [self.name]: { ...self, status: 'valid' } },
    claimant: self.name,
    next: [],
    staged: [],
    version: 1,
  };
}

/** Fraction of partitions each member owns. */
export function ownership(owners: readonly string[], members: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of members) counts.set(name, 0);
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  const out = new Map<string, number>();
  for (const [name, c] of counts) out.set(name, c / owners.length);
  return out;
}

/** Owners once every pending transfer has completed. */
export function futureOwners(ring: Ring): string[] {
  const out = [...ring.owners];
  for (const t of ring.next) out[t.partition] = t.to;
  return out;
}

export function isMember(ring: Ring, node: string): boolean {
  return Object.hasOwn(ring.members, node);
}
