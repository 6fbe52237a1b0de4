/**
 * The ring: which member owns each partition. Pure data plus pure helpers; the
 * ring manager (I/O) persists it and, with the cluster subsystem, gossips it.
 */
export type MemberStatus = 'joining' | 'valid' | 'leaving' | 'exiting' | 'down';

export interface Member {
  name: string;
  status: MemberStatus;
  /** host:port of the member's cluster transport */
  clusterAddress: string;
  httpAddress: string;
}

export interface Ring {
  clusterName: string;
  /** ring size this data dir was created with; a different --ring-size is refused */
  createdRingSize: number;
  ringSize: number;
  /** owners[p] = member name owning partition p */
  owners: string[];
  members: Record<string, Member>;
  claimant: string;
  /** bumped on every change, so a newer ring wins */
  version: number;
}

export function freshRing(clusterName: string, self: Member, ringSize: number): Ring {
  return {
    clusterName,
    createdRingSize: ringSize,
    ringSize,
    owners: new Array<string>(ringSize).fill(self.name),
    members: { [self.name]: { ...self, status: 'valid' } },
    claimant: self.name,
    version: 1,
  };
}

/** Fraction of partitions each member owns. */
export function ownership(ring: Ring): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of Object.keys(ring.members)) counts.set(name, 0);
  for (const o of ring.owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  const out = new Map<string, number>();
  for (const [name, c] of counts) out.set(name, c / ring.ringSize);
  return out;
}
