import { replicaPartitions } from '../ring/chash.js';

/**
 * The coverage plan (riak_core_coverage_plan): which vnodes to ask, and for
 * which key-space partitions ("arcs") each one answers, so that every arc is
 * covered exactly `r` times. Pure: the ring, the up nodes and the offset are
 * arguments; ties are broken by partition index and the offset, never by
 * chance.
 *
 * Vnode v holds the replicas of arcs v-n+1..v. Walking the arcs from `offset`,
 * an arc is given to a vnode already in the plan when one covers it, else to
 * the replica furthest clockwise whose owner is up (it also covers the most
 * following arcs), so about ringSize/n vnodes are asked, with a keyspace filter
 * wherever a vnode covers more arcs than it is asked for (ring sizes not
 * divisible by n, down nodes, r > 1).
 */
export interface CoverageVnode {
  partition: number;
  node: string;
  /** the arcs (key-space partitions) this vnode answers for */
  arcs: number[];
}

export interface CoveragePlan {
  vnodes: CoverageVnode[];
  /** arcs that could not be covered r times because too few replicas are up */
  uncovered: number[];
}

export interface CoverageInput {
  ringSize: number;
  owners: readonly string[];
  up: ReadonlySet<string>;
  nval: number;
  /** how many times each arc is covered (riak's primary coverage r), default 1 */
  r?: number;
  /** rotates where the walk starts, so repeated queries spread over replicas */
  offset?: number;
}

export function coveragePlan(input: CoverageInput): CoveragePlan {
  const { ringSize, owners, up } = input;
  const n = Math.min(input.nval, ringSize);
  const r = Math.min(input.r ?? 1, n);
  const offset = (((input.offset ?? 0) % ringSize) + ringSize) % ringSize;
  const chosen = new Map<number, number[]>(); // vnode partition -> arcs
  const uncovered: number[] = [];
  for (let i = 0; i < ringSize; i++) {
    const arc = (offset + i) % ringSize;
    const replicas = replicaPartitions(arc, ringSize, n).filter((v) => up.has(owners[v]!));
    const picked: number[] = [];
    // reuse vnodes already asked (most arcs per vnode), then the furthest clockwise
    for (const v of replicas) if (picked.length < r && chosen.has(v)) picked.push(v);
    for (const v of [...replicas].reverse()) if (picked.length < r && !picked.includes(v)) picked.push(v);
    if (picked.length < r) uncovered.push(arc);
    for (const v of picked) {
      const arcs = chosen.get(v);
      if (arcs) arcs.push(arc);
      else chosen.set(v, [arc]);
    }
  }
  const vnodes = [...chosen]
    .sort(([a], [b]) => a - b)
    .map(([partition, arcs]) => ({ partition, node: owners[partition]!, arcs: arcs.sort((x, y) => x - y) }));
  return { vnodes, uncovered: uncovered.sort((a, b) => a - b) };
}

/**
 * A sample of the plan: every k-th vnode, for estimates (riak's sample_only).
 * Returns the sampled vnodes and the fraction of arcs they cover.
 */
export function samplePlan(plan: CoveragePlan, ringSize: number, fraction: number): { vnodes: CoverageVnode[]; coveredFraction: number } {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError('sample fraction must be in (0, 1]');
  const k = Math.max(1, Math.round(1 / fraction));
  const vnodes = plan.vnodes.filter((_, i) => i % k === 0);
  const arcs = vnodes.reduce((s, v) => s + v.arcs.length, 0);
  return { vnodes, coveredFraction: arcs / ringSize };
}
