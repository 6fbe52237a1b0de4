/**
 * Key, value and operation generators, after basho_bench's key_generator and
 * value_generator. Each worker builds its own from its own PRNG streams, so a
 * run's per-worker sequences depend only on --seed.
 */
import { randInt, type Rng } from './prng.js';
import type { KeySpec, OpName, OpWeight, ValueSpec } from './config.js';

export type KeyGen = () => number;

/** basho_bench's pareto_int uses a mean of 20% of the key space and shape 1.5: ~80% of hits land on 20% of keys. */
const PARETO_SHAPE = 1.5;

export function keyGenerator(spec: KeySpec, rng: Rng, worker: number, workers: number): KeyGen {
  const n = spec.n;
  switch (spec.kind) {
    case 'uniform':
      return () => randInt(rng, n);
    case 'pareto': {
      const s1 = -1 / PARETO_SHAPE;
      const s2 = n * 0.2 * (PARETO_SHAPE - 1);
      return () => {
        // The distribution is unbounded; redraw the ~3% tail past n rather than
        // fold it, which would make the top of the range hot too.
        for (;;) {
          const k = Math.trunc((Math.pow(1 - rng(), s1) - 1) * s2);
          if (k < n) return k;
        }
      };
    }
    case 'sequential': {
      let next = 0;
      return () => {
        const k = next;
        next = (next + 1) % n;
        return k;
      };
    }
    case 'partitioned': {
      const [lo, hi] = partition(n, worker, workers);
      let next = lo;
      return () => {
        const k = next;
        next = next + 1 >= hi ? lo : next + 1;
        return k;
      };
    }
  }
}

/** The slice [lo, hi) of 0..n-1 that worker `w` of `workers` owns under partitioned:N. */
export function partition(n: number, w: number, workers: number): [number, number] {
  return [Math.floor((w * n) / workers), Math.floor(((w + 1) * n) / workers)];
}

export function keyName(k: number): string {
  return `k${k}`;
}

export type SizeGen = () => number;

export function sizeGenerator(spec: ValueSpec, rng: Rng): SizeGen {
  if (spec.kind === 'fixed') return () => spec.bytes;
  const span = spec.max - spec.min + 1;
  return () => spec.min + randInt(rng, span);
}

export function maxValueSize(spec: ValueSpec): number {
  return spec.kind === 'fixed' ? spec.bytes : spec.max;
}

/**
 * A block of seeded random bytes that values are sliced from (as basho_bench
 * does), so a put costs a copy rather than a PRNG call per byte. One block
 * serves every worker: at 16 MiB values, one per worker would be 256 MiB.
 */
export function valuePool(rng: Rng, maxSize: number): Buffer {
  const pool = Buffer.allocUnsafe(Math.ceil((maxSize + 4096) / 4) * 4);
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(Math.floor(rng() * 4294967296), i);
  return pool;
}

/**
 * Each value's first bytes are stamped with worker and sequence so two writes
 * almost never carry the same value, which get_own_puts relies on to see a
 * stale read.
 */
export class ValueGen {
  private seq = 0;

  constructor(
    private readonly sizes: SizeGen,
    private readonly rng: Rng,
    private readonly worker: number,
    private readonly pool: Buffer,
  ) {}

  next(): Buffer {
    const size = this.sizes();
    const offset = randInt(this.rng, this.pool.length - size + 1);
    const value = Buffer.from(this.pool.subarray(offset, offset + size));
    value.write(`${this.worker}:${this.seq++}:`, 0, 'latin1');
    return value;
  }
}

/** Weighted choice over the --ops mix. */
export function opChooser(ops: OpWeight[], rng: Rng): () => OpName {
  const total = ops.reduce((s, o) => s + o.weight, 0);
  return () => {
    let r = rng() * total;
    for (const o of ops) {
      r -= o.weight;
      if (r < 0) return o.op;
    }
    return ops[ops.length - 1]!.op;
  };
}
