/**
 * One benchmark worker: its connection, its PRNG streams and generators, and
 * the meaning of each operation. The runner decides when a worker sends; the
 * worker decides what.
 */
import { createHash } from 'node:crypto';
import type { BenchConfig, OpName } from './config.js';
import type { Driver } from './drivers/driver.js';
import { OpError } from './drivers/driver.js';
import { keyGenerator, keyName, maxValueSize, opChooser, sizeGenerator, ValueGen, valuePool, type KeyGen } from './generators.js';
import { randInt, streamFor, type Rng } from './prng.js';

/** How many of its own writes a worker remembers for get_own_puts. */
const OWN_PUTS_KEPT = 10_000;

/**
 * Which keys someone else may have touched. Workers share a key space, so a
 * worker reading its own key back may legitimately see another worker's
 * write; only a read of a key nobody else wrote since (and while) ours went
 * in, and nobody wrote during the read, is judged.
 */
export class WriteTracker {
  private readonly keys = new Map<string, { epoch: number; active: number; overlapped: boolean }>();

  begin(key: string): number {
    let e = this.keys.get(key);
    if (!e) this.keys.set(key, (e = { epoch: 0, active: 0, overlapped: false }));
    e.epoch++;
    e.overlapped = e.active > 0;
    e.active++;
    return e.epoch;
  }

  /** True when this write was the only one in flight and none began after it. */
  end(key: string, epoch: number): boolean {
    const e = this.keys.get(key)!;
    e.active--;
    return e.epoch === epoch && !e.overlapped && e.active === 0;
  }

  epoch(key: string): number {
    return this.keys.get(key)?.epoch ?? 0;
  }
}

function digest(v: Buffer): string {
  return createHash('sha1').update(v).digest('base64');
}

export interface OpOutcome {
  /** the op whose numbers this is (get_own_puts before any own write runs as a put) */
  op: OpName;
  notFound: boolean;
}

export class Worker {
  private readonly chooseOp: () => OpName;
  private readonly nextKey: KeyGen;
  private readonly values: ValueGen;
  private readonly ownRng: Rng;
  /** key -> digest and epoch of this worker's last unchallenged write of it */
  private readonly own = new Map<string, { digest: string; epoch: number; slot: number }>();
  private readonly ownKeys: string[] = [];

  constructor(
    readonly index: number,
    readonly driver: Driver,
    cfg: BenchConfig,
    private readonly tracker: WriteTracker | undefined,
    /** shared by the workers of a run (see valuePool); built here when not given */
    pool: Buffer = valuePool(streamFor(cfg.seed, 0, 'pool'), maxValueSize(cfg.valueSize)),
  ) {
    this.chooseOp = opChooser(cfg.ops, streamFor(cfg.seed, index, 'ops'));
    this.nextKey = keyGenerator(cfg.keys, streamFor(cfg.seed, index, 'keys'), index, cfg.workers);
    const valueRng = streamFor(cfg.seed, index, 'values');
    this.values = new ValueGen(sizeGenerator(cfg.valueSize, valueRng), valueRng, index, pool);
    this.ownRng = streamFor(cfg.seed, index, 'own');
  }

  nextOp(): OpName {
    return this.chooseOp();
  }

  /** Runs one operation; throws an OpError (or whatever the driver threw) on failure. */
  async run(op: OpName): Promise<OpOutcome> {
    switch (op) {
      case 'get': {
        const r = await this.driver.get(keyName(this.nextKey()));
        return { op, notFound: r.value === null && !r.siblings };
      }
      case 'put':
        await this.write(keyName(this.nextKey()));
        return { op, notFound: false };
      case 'delete': {
        const key = keyName(this.nextKey());
        const epoch = this.tracker?.begin(key);
        try {
          await this.driver.delete(key);
        } finally {
          if (epoch !== undefined) this.tracker!.end(key, epoch);
        }
        return { op, notFound: false };
      }
      case 'update': {
        const key = keyName(this.nextKey());
        const r = await this.driver.get(key);
        await this.write(key, r.context);
        return { op, notFound: r.value === null && !r.siblings };
      }
      case 'get_own_puts':
        return this.getOwnPut();
    }
  }

  private async write(key: string, context?: string): Promise<void> {
    const value = this.values.next();
    const epoch = this.tracker?.begin(key);
    let ok = false;
    try {
      await this.driver.put(key, value, context);
      ok = true;
    } finally {
      const sole = epoch !== undefined && this.tracker!.end(key, epoch);
      if (ok && sole) this.remember(key, { digest: digest(value), epoch: epoch! });
      else this.forget(key);
    }
  }

  private remember(key: string, rec: { digest: string; epoch: number }): void {
    const had = this.own.get(key);
    if (had) {
      had.digest = rec.digest;
      had.epoch = rec.epoch;
      return;
    }
    // Full: forget a random one (a seeded choice, so runs still repeat).
    if (this.ownKeys.length >= OWN_PUTS_KEPT) this.forget(this.ownKeys[randInt(this.ownRng, this.ownKeys.length)]!);
    this.own.set(key, { ...rec, slot: this.ownKeys.length });
    this.ownKeys.push(key);
  }

  /** Swap-remove keeps the key list dense so a random pick is O(1). */
  private forget(key: string): void {
    const rec = this.own.get(key);
    if (!rec) return;
    this.own.delete(key);
    const last = this.ownKeys.pop()!;
    if (last !== key) {
      this.ownKeys[rec.slot] = last;
      this.own.get(last)!.slot = rec.slot;
    }
  }

  private async getOwnPut(): Promise<OpOutcome> {
    if (this.own.size === 0) {
      // Nothing of ours to read yet: write one, so the mix stays busy and deterministic.
      await this.write(keyName(this.nextKey()));
      return { op: 'put', notFound: false };
    }
    const key = this.ownKeys[randInt(this.ownRng, this.ownKeys.length)]!;
    const rec = this.own.get(key)!;
    const r = await this.driver.get(key);
    // Someone else wrote the key before or during our read: no verdict, and forget it.
    if (this.tracker!.epoch(key) !== rec.epoch) {
      this.forget(key);
      return { op: 'get_own_puts', notFound: r.value === null };
    }
    if (r.value === null || digest(r.value) !== rec.digest) {
      const saw = r.siblings ? 'siblings' : r.value === null ? 'not found' : `${r.value.length} bytes of another value`;
      throw new OpError('stale_read', `${key}: read ${saw} after this worker's write`);
    }
    return { op: 'get_own_puts', notFound: false };
  }
}
