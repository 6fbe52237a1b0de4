/**
 * Claim: which member owns each partition, in the role of riak_core_claim but
 * with guarantees Riak's claim lacks:
 *
 *  - balance: every member owns floor(S/m) or ceil(S/m) partitions (Riak's
 *    claim_v2 left one of 5 nodes with 25% of a 64 ring, basho/riak#348, and
 *    made unbalanced leave plans, riak_core#970);
 *  - target_n: any `targetN` consecutive partitions have distinct owners
 *    whenever balance allows it (`feasibleN`): from 4 members on for targetN 4;
 *  - little movement: staying owners keep what they can, so a join moves about
 *    the newcomer's share and a leave about the leaver's partitions.
 *
 * Attempts, cheapest first: the incremental claim; else the nearest valid ring
 * (found ignoring balance) rebalanced incrementally; else stripes, which always
 * work. Rings of at most targetN + 1 members are rigid and may re-layout widely.
 * Pure and deterministic: names compare by code unit (never by locale) and
 * every tie is broken by partition index or name.
 */
export const DEFAULT_TARGET_N = 4;

export type Transfer = { partition: number; from: string; to: string };
/** An owner, or undefined while a partition is free during the claim. */
type Slot = string | undefined;
/** One reassignment of a chain: partition p goes to `to`. */
type Step = { p: number; to: string };

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Partitions owned per owner, in name order. */
export function sharesOf(owners: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return new Map([...counts].sort(([a], [b]) => byName(a, b)));
}

/** The partitions whose owner differs between two rings of the same size. */
export function transfers(before: readonly string[], after: readonly string[]): Transfer[] {
  if (before.length !== after.length) throw new Error(`ring sizes differ: ${before.length} vs ${after.length}`);
  const out: Transfer[] = [];
  for (let p = 0; p < before.length; p++) if (before[p] !== after[p]) out.push({ partition: p, from: before[p], to: after[p] });
  return out;
}

/** Windows of `n` consecutive partitions (cyclic; n > S means the whole ring) in which some owner repeats. */
export function violations(owners: readonly string[], n: number): { start: number; owners: string[] }[] {
  const S = owners.length;
  const w = Math.min(n, S);
  const out: { start: number; owners: string[] }[] = [];
  for (let s = 0; s < S; s++) {
    const win: string[] = [];
    for (let i = 0; i < w; i++) win.push(owners[(s + i) % S]);
    if (new Set(win).size < w) out.push({ start: s, owners: win });
  }
  return out;
}

/**
 * The largest spacing n <= targetN that balance allows: a member owning
 * c = ceil(S/m) partitions needs c * n <= S to keep n - 1 others between each
 * two of its own, and `stripedResidues` shows that this is also sufficient.
 * With targetN = 4 and a power-of-two ring it is 4 for m >= 4, but 2 for m = 3
 * (3 does not divide S), so three members can never give every n_val=3
 * preference list three distinct owners.
 */
export function feasibleN(ringSize: number, m: number, targetN: number): number {
  if (m < 1) return 0;
  const c = Math.ceil(ringSize / m);
  return Math.max(1, Math.min(targetN, m, Math.floor(ringSize / c)));
}

/**
 * A ring-size layout of member indices 0..m-1 (`m` per round, k = ceil(S/m)
 * rounds) meeting `feasibleN`. d = k*m - S slots are deleted, spread evenly over
 * the rounds, each from a different member (so counts are k or k-1), taking the
 * highest unused indices round after round. Each round's deleted block sits
 * directly below the previous round's, so the gap between two occurrences of an
 * index loses at most one round's block, ceil(d/k) <= m - n (that is c*n <= S
 * again); an index deleted from a round just gets a longer gap.
 */
export function stripedResidues(ringSize: number, m: number): number[] {
  const k = Math.ceil(ringSize / m);
  const d = k * m - ringSize;
  const out: number[] = [];
  let deleted = 0;
  for (let r = 0; r < k; r++) {
    const dr = Math.floor(((r + 1) * d) / k) - Math.floor((r * d) / k);
    const lo = m - deleted - dr;
    for (let j = 0; j < m; j++) if (j < lo || j >= m - deleted) out.push(j);
    deleted += dr;
  }
  return out;
}

/** Is `x` within n-1 partitions of p (ignoring partition `skip`)? */
function near(owners: readonly Slot[], p: number, x: string, n: number, skip = -1): boolean {
  const S = owners.length;
  for (let d = 1; d < n && d < S; d++) {
    const a = (p + d) % S;
    const b = (p - d + S) % S;
    if ((a !== skip && owners[a] === x) || (b !== skip && owners[b] === x)) return true;
  }
  return false;
}

/** A large subset of sorted positions with cyclic gaps >= n, starting after the largest gap. */
function spacedSubset(pos: readonly number[], n: number, S: number): number[] {
  if (pos.length <= 1) return [...pos];
  let start = 0;
  let widest = -1;
  for (let i = 0; i < pos.length; i++) {
    const gap = (pos[(i + 1) % pos.length] - pos[i] + S) % S;
    if (gap > widest) [widest, start] = [gap, (i + 1) % pos.length];
  }
  const kept = [pos[start]];
  for (let i = 1; i < pos.length; i++) {
    const p = pos[(start + i) % pos.length];
    if ((p - kept[kept.length - 1] + S) % S >= n && (kept[0] - p + S) % S >= n) kept.push(p);
  }
  return kept;
}

/**
 * Up to q of the (sorted) candidates, pairwise >= n apart cyclically, taking at
 * most budget(o) from each current owner o. Greedy clockwise from a few
 * different starting candidates, because a start that is bad for the wrap can
 * strand the last pick.
 */
function walk(cands: readonly number[], q: number, n: number, owners: readonly Slot[], budget: Map<string, number>): number[] {
  const S = owners.length;
  let best: number[] = [];
  const tries = Math.min(cands.length, 64);
  for (let t = 0; t < tries && best.length < q; t++) {
    const s = Math.floor((t * cands.length) / tries);
    const taken: number[] = [];
    const used = new Map<string, number>();
    for (let i = 0; i < cands.length && taken.length < q; i++) {
      const p = cands[(s + i) % cands.length];
      const o = owners[p];
      if (o !== undefined && (used.get(o) ?? 0) >= (budget.get(o) ?? 0)) continue;
      if (taken.length > 0 && ((p - taken[taken.length - 1] + S) % S < n || (taken[0] - p + S) % S < n)) continue;
      taken.push(p);
      if (o !== undefined) used.set(o, (used.get(o) ?? 0) + 1);
    }
    if (taken.length > best.length) best = taken;
  }
  return best;
}

/** Quotas: the S mod m larger shares go to the members that own most now, so fewer partitions move. */
function quotas(current: readonly string[], names: readonly string[]): Map<string, number> {
  const have = sharesOf(current);
  const S = current.length;
  const base = Math.floor(S / names.length);
  const order = [...names].sort((a, b) => (have.get(b) ?? 0) - (have.get(a) ?? 0) || byName(a, b));
  return new Map(order.map((x, i) => [x, base + (i < S % names.length ? 1 : 0)]));
}

/**
 * Keep what staying owners own (minus partitions that break spacing), then
 * fill free partitions, then let members still short take partitions of
 * over-quota members, then fall back to chains of displacements. Every
 * placement keeps spacing n, so the result is valid exactly when every quota
 * is met; undefined when it cannot be.
 */
function incremental(current: readonly string[], names: readonly string[], quota: Map<string, number>, n: number): string[] | undefined {
  const S = current.length;
  const owners: Slot[] = current.map((o) => (quota.has(o) ? o : undefined));
  const count = new Map(names.map((x) => [x, 0]));
  for (const x of names) {
    const pos = [...owners.keys()].filter((p) => owners[p] === x);
    const keep = new Set(spacedSubset(pos, n, S));
    for (const p of pos) if (!keep.has(p)) owners[p] = undefined;
    count.set(x, keep.size);
  }
  const need = (x: string): number => quota.get(x)! - count.get(x)!;
  const short = (): string[] => names.filter((x) => need(x) > 0).sort((a, b) => need(b) - need(a) || byName(a, b));
  const give = (p: number, u: string): void => {
    const o = owners[p];
    if (o !== undefined) count.set(o, count.get(o)! - 1);
    owners[p] = u;
    count.set(u, count.get(u)! + 1);
  };
  // Free partitions, fewest possible takers first, each to the fitting member furthest below quota. A leave frees
  // partitions n apart, which makes this a plain matching that the most-constrained-first greedy rarely strands.
  const takers = (h: number): string[] => short().filter((x) => !near(owners, h, x, n));
  const holes = owners.flatMap((o, p) => (o === undefined ? [[takers(p).length, p]] : []));
  for (const [, h] of holes.sort((a, b) => a[0] - b[0] || a[1] - b[1])) {
    const u = takers(h)[0];
    if (u !== undefined) give(h, u);
  }
  // A join: the newcomer takes spaced partitions from members above their new quota.
  for (const u of short()) {
    const budget = new Map(names.filter((x) => need(x) < 0).map((x) => [x, -need(x)]));
    const cands = [...owners.keys()].filter((p) => owners[p] !== undefined && budget.has(owners[p]!) && !near(owners, p, u, n));
    for (const p of walk(cands, need(u), n, owners, budget)) give(p, u);
  }
  // Direct picks exhausted: each chain of displacements lowers the total deficit by one.
  for (let order = short(); order.length > 0; order = short()) {
    let moved: Step[] | undefined;
    for (let i = 0; i < order.length && moved === undefined; i++) moved = chain(owners, current, order[i], n, (z) => need(z) < 0);
    if (moved === undefined) return undefined;
    for (const { p, to } of moved) give(p, to);
  }
  return owners as string[];
}

/**
 * The cheapest chain in which u takes a partition from y1, y1 takes one from
 * y2, ... and the last taker takes a free partition or one from an over-quota
 * member, each landing where it keeps spacing n. A step costs a move unless its
 * partition has already moved (re-routing a freed partition is free), so this
 * is a 0-1 BFS over members; a member's vacated partition is fixed when it is
 * expanded, and only a member's own partitions matter for its spacing, so the
 * steps never invalidate each other. O(m * S * n). Terminal step first.
 */
function chain(owners: readonly Slot[], current: readonly string[], u: string, n: number, over: (z: string) => boolean): Step[] | undefined {
  const S = owners.length;
  const SINK = '\0sink';
  const dist = new Map<string, number>([[u, 0]]);
  const via = new Map<string, { q: number; from: string }>();
  const done = new Set<string>();
  const deque = [u];
  while (deque.length > 0) {
    const y = deque.shift()!;
    if (done.has(y)) continue;
    done.add(y);
    if (y === SINK) {
      const out: Step[] = [];
      for (let step = via.get(SINK); step !== undefined; step = via.get(step.from)) out.push({ p: step.q, to: step.from });
      return out;
    }
    const skip = via.get(y)?.q ?? -1;
    for (let q = 0; q < S; q++) {
      const z = owners[q];
      if (z === y || near(owners, q, y, n, skip)) continue;
      const key = z === undefined || over(z) ? SINK : z;
      if (done.has(key)) continue;
      const w = Number(y !== current[q]) - Number(z !== undefined && z !== current[q]) > 0 ? 1 : 0;
      const d = dist.get(y)! + w;
      if (d < (dist.get(key) ?? Infinity)) {
        dist.set(key, d);
        via.set(key, { q, from: y });
        if (w > 0) deque.push(key);
        else deque.unshift(key);
      }
    }
  }
  return undefined;
}

/**
 * The ring keeping spacing n that changes the fewest partitions of `current`,
 * ignoring balance: dynamic programming over the last n-1 owners, with the
 * cycle cut where `current` has n-1 distinct members in a row (kept as they
 * are). Only affordable for few members, which is where rings are so tight
 * (each partition has m - n + 1 possible owners) that local repair gets stuck.
 */
function closest(current: readonly string[], names: readonly string[], n: number): string[] | undefined {
  const S = current.length;
  const m = names.length;
  const k = n - 1;
  let states = 1;
  for (let i = 0; i < k; i++) states *= m - i;
  if (k < 1 || states * (m - k) * S > 4_000_000) return undefined;
  const tuples: number[][] = [];
  const grow = (t: number[]): void => {
    if (t.length === k) tuples.push(t);
    else for (let x = 0; x < m; x++) if (!t.includes(x)) grow([...t, x]);
  };
  grow([]);
  const id = new Map(tuples.map((t, i) => [t.join(), i]));
  const next = tuples.map((t) => names.flatMap((_, x) => (t.includes(x) ? [] : [[x, id.get([...t.slice(1), x].join())!]])));
  const index = new Map(names.map((x, i) => [x, i]));
  const cur = current.map((o) => index.get(o) ?? -1);
  const run = (p: number): number[] => Array.from({ length: k }, (_, i) => cur[(p + i) % S]);
  const b = cur.findIndex((_, p) => !run(p).includes(-1) && new Set(run(p)).size === k);
  if (b < 0) return undefined;
  const pre = run(b);
  const L = S - k;
  const back = new Int32Array(L * states);
  let cost = new Float64Array(states).fill(Infinity);
  cost[id.get(pre.join())!] = 0;
  for (let i = 0; i < L; i++) {
    const p = (b + k + i) % S;
    const nc = new Float64Array(states).fill(Infinity);
    for (let s = 0; s < states; s++) {
      if (cost[s] === Infinity) continue;
      for (const [x, t] of next[s]) {
        const v = cost[s] + Number(x !== cur[p]);
        if (v < nc[t]) [nc[t], back[i * states + t]] = [v, s * m + x];
      }
    }
    cost = nc;
  }
  // Windows across the cut: the last k owners followed by the kept run.
  const spaced = (seq: number[]): boolean => seq.every((_, i) => i + n > seq.length || new Set(seq.slice(i, i + n)).size === n);
  let end = -1;
  for (let s = 0; s < states; s++) if (cost[s] < (end < 0 ? Infinity : cost[end]) && spaced([...tuples[s], ...pre])) end = s;
  if (end < 0) return undefined;
  const out = new Array<string>(S);
  pre.forEach((x, i) => (out[(b + i) % S] = names[x]));
  for (let i = L - 1, s = end; i >= 0; i--) {
    out[(b + k + i) % S] = names[back[i * states + s] % m];
    s = Math.floor(back[i * states + s] / m);
  }
  return out;
}

/**
 * The striped layout under the rotation and member order that keep the most
 * partitions with their current owner. Every rotation is scored by an upper
 * bound (each stripe index's best member); the few best are matched greedily.
 */
function striped(current: readonly string[], names: readonly string[]): string[] {
  const S = current.length;
  const m = names.length;
  const R = stripedResidues(S, m);
  const index = new Map(names.map((x, i) => [x, i]));
  const cur = current.map((o) => index.get(o) ?? -1);
  const weights = (t: number): Int32Array => {
    const w = new Int32Array(m * m);
    for (let p = 0; p < S; p++) if (cur[p] >= 0) w[R[(p + t) % S] * m + cur[p]]++;
    return w;
  };
  const bound: [number, number][] = [];
  for (let t = 0; t < S; t++) {
    const w = weights(t);
    let ub = 0;
    for (let j = 0; j < m; j++) ub += Math.max(...w.subarray(j * m, j * m + m));
    bound.push([ub, t]);
  }
  bound.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  let best: { kept: number; t: number; perm: number[] } = { kept: -1, t: 0, perm: [] };
  for (const [, t] of bound.slice(0, 8)) {
    const w = weights(t);
    const cells: number[] = [];
    for (let c = 0; c < m * m; c++) if (w[c] > 0) cells.push(c);
    cells.sort((a, b) => w[b] - w[a] || a - b);
    const perm = new Array<number>(m).fill(-1);
    const taken = new Set<number>();
    let kept = 0;
    for (const c of cells) {
      const j = Math.floor(c / m);
      if (perm[j] >= 0 || taken.has(c % m)) continue;
      perm[j] = c % m;
      taken.add(c % m);
      kept += w[c];
    }
    const rest = names.map((_, i) => i).filter((i) => !taken.has(i));
    for (let j = 0; j < m; j++) if (perm[j] < 0) perm[j] = rest.shift()!;
    if (kept > best.kept) best = { kept, t, perm };
  }
  return current.map((_, p) => names[best.perm[R[(p + best.t) % S]]]);
}

/**
 * New owners for the ring `current` so that exactly `members` own it. Owners not
 * in `members` lose everything. Throws if it cannot meet balance and
 * feasibleN spacing, which `stripedResidues` always can, so that is a bug.
 */
export function claim(current: readonly string[], members: readonly string[], opts: { targetN: number } = { targetN: DEFAULT_TARGET_N }): string[] {
  const S = current.length;
  const names = [...new Set(members)].sort(byName);
  if (S < 1) throw new Error('claim: empty ring');
  if (names.length === 0) throw new Error('claim: no members');
  if (!Number.isInteger(opts.targetN) || opts.targetN < 1) throw new Error(`claim: bad targetN ${opts.targetN}`);
  const m = names.length;
  const n = feasibleN(S, m, opts.targetN);
  let stripes: string[] | undefined;
  const striping = (): string[] => (stripes ??= striped(current, names));
  let owners = incremental(current, names, quotas(current, names), n);
  if (owners === undefined) {
    // Stuck, which happens in tight rings (m close to n): rebalance the nearest valid ring, unless stripes move less.
    const base = closest(current, names, n);
    const fixed = base && incremental(base, names, quotas(base, names), n);
    owners = fixed && transfers(current, fixed).length <= transfers(current, striping()).length ? fixed : striping();
  }
  // Below feasibility (3 members, targetN 4) only spacing n < min(targetN, m) can be promised, but stripes leave at
  // most 2d windows short (d = the deleted slots, <= 2 here) where the incremental result may leave dozens: prefer
  // replica safety over movement in these small clusters; on a tie keep the incremental ring, so claim is idempotent.
  const soft = Math.min(opts.targetN, m, S);
  if (soft > n && violations(striping(), soft).length < violations(owners, soft).length) owners = striping();
  const counts = sharesOf(owners);
  const share = (x: string): number => counts.get(x) ?? 0;
  const unbalanced = names.some((x) => share(x) < Math.floor(S / m) || share(x) > Math.ceil(S / m));
  const stranger = owners.some((o) => !names.includes(o));
  if (unbalanced || stranger || violations(owners, n).length > 0) {
    throw new Error(`claim: internal error, unbalanced or spacing < ${n} (S=${S}, m=${m})`);
  }
  return owners;
}
