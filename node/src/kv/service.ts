import { Buffer } from 'node:buffer';
import type { HistogramObserver, Metrics } from '../api/metrics.js';
import { partitionOfHash } from '../ring/chash.js';
import { KeyCache } from './key_cache.js';
import type { QuorumValue } from '../config/node_config.js';
import type { Ring } from '../ring/ring.js';
import type { Content, RkvObject } from '../object/object.js';
import type { VClock } from '../object/vclock.js';
import type { BKey } from '../vnode/vnode.js';
import { validateProps, type BucketRegistry } from './buckets.js';
import { mergeReplicas } from '../object/object.js';
import { GetFsm, getResult, upToDate } from './get_fsm.js';
import { preflist, type Target } from './preflist.js';
import { PutFsm } from './put_fsm.js';
import { reapTombstone } from './reaper.js';
import type { ImmediateReplica, VnodeRouter } from './router.js';
import type { MemoEntry } from '../backend/memory.js';
import { resolveQuorum } from './tally.js';
import { performance } from 'node:perf_hooks';
import { BadRequestError, RequestTimeoutError, UnavailableError, type BucketProps, type GetOptions, type GetResult, type KvApi, type NewContent, type PutOptions, type PutResult, type RequestTiming } from './types.js';

export interface KvServiceDeps {
  /** this node's name: a local replica coordinates puts */
  self: string;
  ring: () => Ring;
  upNodes: () => ReadonlySet<string>;
  router: VnodeRouter;
  buckets: BucketRegistry;
  metrics: Metrics;
  now: () => number;
  timeoutMs: number;
  count: (bucket: Buffer) => Promise<number>;
  /** ms after a delete before its tombstone is reaped ('keep' never reaps), riak's delete_mode */
  deleteMode?: number | 'keep';
  scan: KvApi['scan'];
}

/** What getNow and putNow made of a request's bucket properties and options (see readPlan). */
interface Plan {
  props: BucketProps;
  /** compared by identity only */
  opts: object;
  ring: Ring;
  n: number;
  lww: boolean;
}

type QuorumName = 'r' | 'pr' | 'w' | 'dw' | 'pw';
const READ_QUORUMS = ['r', 'pr'] as const;
const WRITE_QUORUMS = ['w', 'dw', 'pw'] as const;

/** The options of a request that gives none: one object, so the plans made for it are kept. */
const NO_OPTIONS: GetOptions & PutOptions = Object.freeze({});

export const MAX_BUCKET_BYTES = 0xffff;
export const DEFAULT_DELETE_MODE_MS = 3000;
export const MAX_KEY_BYTES = 65536;

/**
 * The front ends' entry point: turns a client request into a coordinator run
 * with the bucket's properties and the request's overrides.
 */
export class KvService implements KvApi {
  /** keys with a reap scheduled, so repeated reads of a tombstone schedule one */
  private readonly reapsPending = new Set<string>();
  /** preference lists of the current ring and up set, by n and first partition (see targets()) */
  private preflists: { ring: Ring; up: ReadonlySet<string>; byN: (Target[] | undefined)[][] } | undefined;
  /** coordinatorDuration series by op and outcome, bound once */
  private readonly durations = new Map<string, Map<string, HistogramObserver>>();
  private readonly keys = new KeyCache();
  private lastReadPlan: Plan | undefined;
  private lastWritePlan: Plan | undefined;

  constructor(private readonly d: KvServiceDeps) {}

  private bkey(bucket: Buffer, key: Buffer): BKey {
    if (bucket.length === 0) throw new BadRequestError('bucket name must not be empty');
    if (bucket.length > MAX_BUCKET_BYTES) throw new BadRequestError(`bucket name longer than ${MAX_BUCKET_BYTES} bytes`);
    if (key.length > MAX_KEY_BYTES) throw new BadRequestError(`key longer than ${MAX_KEY_BYTES} bytes`);
    return this.keys.get(bucket, key);
  }

  private nval(props: BucketProps, override: number | undefined): number {
    const n = override ?? props.n_val;
    if (!Number.isInteger(n) || n < 1 || n > this.d.ring().ringSize) throw new BadRequestError(`n_val must be between 1 and the ring size`);
    return n;
  }

  /**
   * The preference list from one snapshot of the ring, each target stamped
   * with that ring's size. A list depends only on the ring and the up nodes
   * (each replaced, never changed, when it changes), the key's first
   * partition and n: lists are kept per ring and up set, frozen, as every
   * request with the same ones shares them.
   */
  private targets(bkey: BKey, n: number): Target[] {
    const ring = this.d.ring();
    const up = this.d.upNodes();
    let c = this.preflists;
    if (c === undefined || c.ring !== ring || c.up !== up) c = this.preflists = { ring, up, byN: [] };
    const byFirst = (c.byN[n] ??= []);
    const first = partitionOfHash(bkey.hash32, ring.ringSize);
    let targets = byFirst[first];
    if (targets === undefined) {
      targets = preflist(ring, bkey.hash32, n, up);
      for (const t of targets) {
        t.ringSize = ring.ringSize;
        Object.freeze(t);
      }
      byFirst[first] = targets = Object.freeze(targets) as Target[];
    }
    return targets;
  }

  get(bucket: Buffer, key: Buffer, opts: GetOptions = {}): Promise<GetResult> {
    const start = performance.now();
    let run: Promise<GetResult>;
    try {
      const bkey = this.bkey(bucket, key);
      const props = this.d.buckets.get(bucket);
      const n = this.nval(props, opts.n_val);
      run = new GetFsm(
        {
          bkey,
          targets: this.targets(bkey, n),
          r: resolveQuorum('r', opts.r ?? props.r, n),
          pr: resolveQuorum('pr', opts.pr ?? props.pr, n),
          lww: !props.allow_mult || props.last_write_wins,
          timeoutMs: opts.timeoutMs ?? this.d.timeoutMs,
          onTombstone: () => this.scheduleReap(bucket, key, opts.n_val),
          startedAt: start,
        },
        this.d.router,
        this.d.metrics,
        this.d.now,
      ).run();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.timed('get', run, start);
  }

  /**
   * get() answered in the caller's turn, when every replica is a primary that
   * answers at once (router.immediate: an in-process vnode of this node) and
   * none needs a read repair; undefined when the get coordinator must run.
   * Every replica answering is what the coordinator would wait for too, so the
   * answer is the one it would give.
   */
  getNow(bucket: Buffer, key: Buffer, opts: GetOptions = NO_OPTIONS, timing?: RequestTiming): GetResult | undefined {
    const immediate = this.d.router.immediate;
    if (immediate === undefined) return undefined;
    const start = timing?.start ?? performance.now();
    const bkey = this.bkey(bucket, key);
    const { n, lww } = this.readPlan(this.d.buckets.get(bucket), opts);
    const targets = this.targets(bkey, n);
    if (targets.length < n) return undefined;
    let merged: RkvObject | undefined;
    let objs: (RkvObject | undefined)[] | undefined;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const replica = t.primary ? immediate(t, false) : undefined;
      if (replica === undefined) return undefined;
      const read = replica.readNow(bkey);
      if (read === undefined) return undefined;
      const obj = read ?? undefined;
      if (n > 1) (objs ??= []).push(obj);
      if (obj !== undefined) merged = merged === undefined ? obj : mergeReplicas(merged, obj, lww);
    }
    if (merged !== undefined) {
      if (objs !== undefined && !objs.every((o) => upToDate(o, merged, lww))) return undefined;
      // every primary answered with the same tombstone: the moment to reap it, as the coordinator would
      if (merged.siblings.every((s) => s.deleted)) this.scheduleReap(bucket, key, opts.n_val);
    }
    const result = getResult(merged, lww, timing?.wall || this.d.now(), this.d.metrics);
    const end = this.observe('get', result.found ? 'ok' : 'notfound', start);
    if (timing !== undefined) timing.end = end;
    return result;
  }

  /**
   * put() done in the caller's turn, when every replica is a primary that
   * writes at once (see getNow) and the bucket resolves siblings by last write
   * (so no replica can refuse the write); undefined, with nothing written,
   * when the put coordinator must run. On RocksDB the writes are issued in
   * this turn and the result is a promise of their durability.
   */
  putNow(bucket: Buffer, key: Buffer, content: NewContent, context: VClock | undefined, opts: PutOptions = NO_OPTIONS, timing?: RequestTiming, warm = true): PutResult | Promise<PutResult> | undefined {
    const immediate = this.d.router.immediate;
    if (immediate === undefined) return undefined;
    const start = timing?.start ?? performance.now();
    const bkey = this.bkey(bucket, key);
    const { n, lww } = this.writePlan(this.d.buckets.get(bucket), opts);
    if (!lww) return undefined;
    const targets = this.targets(bkey, n);
    if (targets.length < n) return undefined;
    // every replica must be able to write now before the first one does
    const replicas: ImmediateReplica[] = new Array<ImmediateReplica>(targets.length);
    const current: (MemoEntry | null)[] = new Array<MemoEntry | null>(targets.length);
    let cold: ImmediateReplica[] | undefined;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const replica = t.primary ? immediate(t, true) : undefined;
      if (replica === undefined) return undefined;
      const entry = replica.writeReady(bkey);
      if (entry === undefined) (cold ??= []).push(replica);
      else current[i] = entry;
      replicas[i] = replica;
    }
    if (cold !== undefined) {
      if (!warm) return undefined;
      // Local replicas whose stored object is not in memory (RocksDB rows not cached): read them
      // all at once, which caches them, and try again; the coordinator would read them one by one.
      return Promise.all(cold.map((r) => r.get(bkey))).then(
        // a copy of the timing: the caller's object belongs to another request by now
        () => this.putNow(bucket, key, content, context, opts, { start, end: 0 }, false) ?? this.put(bucket, key, content, context, opts),
        (e: unknown) => {
          this.observe('put', 'error', start);
          throw e;
        },
      );
    }
    const first = replicas[0]!.coordinatePutNow(bkey, current[0] ?? null, this.fullContent(content, timing?.wall), opts.overwrite ? undefined : (context ?? {}), lww);
    const obj = first.obj;
    let durable = first.durable;
    for (let i = 1; i < replicas.length; i++) {
      const d = replicas[i]!.mergePutNow(bkey, current[i] ?? null, obj, lww).durable;
      // writes issued in one turn share one RocksDB batch, hence (nearly always) one promise
      if (d !== durable) durable = durable === undefined ? d : Promise.all([durable, d]).then(() => undefined);
    }
    const result: PutResult = { object: obj, context: obj.clock };
    if (durable === undefined) {
      const end = this.observe('put', 'ok', start);
      if (timing !== undefined) timing.end = end;
      return result;
    }
    return this.timed('put', durable, start, result);
  }

  /**
   * getNow's and putNow's n_val and sibling resolution for a request's bucket
   * properties and options, validated as get() and put() validate them. The
   * last ones of each kind are kept: a front end sends the same options
   * object over and over, and the properties (the bucket defaults unless
   * set) and the ring change rarely.
   */
  private readPlan(props: BucketProps, opts: GetOptions): Plan {
    // validated as get() does, though getNow has every replica answer
    return (this.lastReadPlan = this.plan(this.lastReadPlan, props, opts, READ_QUORUMS));
  }

  private writePlan(props: BucketProps, opts: PutOptions): Plan {
    return (this.lastWritePlan = this.plan(this.lastWritePlan, props, opts, WRITE_QUORUMS));
  }

  /** `last` when it was made of the same properties, options and ring; else a new plan, its quorums validated. */
  private plan(last: Plan | undefined, props: BucketProps, opts: Partial<Record<QuorumName, QuorumValue>> & { n_val?: number }, quorums: readonly QuorumName[]): Plan {
    const ring = this.d.ring();
    if (last !== undefined && last.props === props && last.opts === opts && last.ring === ring) return last;
    const n = this.nval(props, opts.n_val);
    for (const q of quorums) resolveQuorum(q, opts[q] ?? props[q], n);
    return { props, opts, ring, n, lww: !props.allow_mult || props.last_write_wins };
  }

  /** Coordinator latency by quorum outcome: ok, notfound, unavailable, timeout, error. */
  private timed<T extends GetResult | PutResult>(op: 'get' | 'put', run: Promise<T>, start: number): Promise<T>;
  /** The same for a run whose completion means the result `answer`: one continuation, not a second one chained to map it. */
  private timed<T extends GetResult | PutResult>(op: 'get' | 'put', run: Promise<unknown>, start: number, answer: T): Promise<T>;
  private timed<T extends GetResult | PutResult>(op: 'get' | 'put', run: Promise<unknown>, start: number, answer?: T): Promise<T> {
    return run.then(
      (done) => {
        const r = answer ?? (done as T);
        this.observe(op, 'found' in r && !r.found ? 'notfound' : 'ok', start);
        return r;
      },
      (e: unknown) => {
        this.observe(op, e instanceof UnavailableError ? 'unavailable' : e instanceof RequestTimeoutError ? 'timeout' : 'error', start);
        throw e;
      },
    );
  }

  /** Records a coordinator's duration; returns the clock reading it ended with. */
  private observe(op: string, outcome: string, start: number): number {
    // by op, then outcome: both are constant strings, so no key is built per request
    let byOutcome = this.durations.get(op);
    if (byOutcome === undefined) this.durations.set(op, (byOutcome = new Map()));
    let h = byOutcome.get(outcome);
    if (h === undefined) {
      h = this.d.metrics.coordinatorDuration.labels({ op, outcome });
      byOutcome.set(outcome, h);
    }
    const end = performance.now();
    h.observe((end - start) / 1000);
    return end;
  }

  put(bucket: Buffer, key: Buffer, content: NewContent, context: VClock | undefined, opts: PutOptions = {}): Promise<PutResult> {
    return this.write(bucket, key, this.fullContent(content), opts.overwrite ? undefined : (context ?? {}), opts);
  }

  /** `wall`: the request's reading of the node's clock, when it has one (RequestTiming.wall). */
  private fullContent(content: NewContent, wall?: number): Content {
    // The object is kept decoded next to its stored bytes (vnode memo, row cache): a value that is a
    // view of a much larger buffer (a socket read of many commands) would keep all of it alive, so it
    // gets its own copy; the view of a one-command read is kept as it is.
    const v = content.value;
    let value = v;
    if (v.buffer.byteLength > 2 * v.byteLength + 256) {
      value = Buffer.allocUnsafe(v.length);
      value.set(v);
    }
    const full: Content = { value, contentType: content.contentType, lastModified: wall || this.d.now(), deleted: false };
    if (content.expiresAt !== undefined) full.expiresAt = content.expiresAt;
    return full;
  }

  async delete(bucket: Buffer, key: Buffer, context: VClock | undefined, opts: PutOptions = {}): Promise<boolean> {
    // Read first: the tombstone must carry the causal context of what it deletes.
    const current = await this.get(bucket, key, opts.n_val === undefined ? {} : { n_val: opts.n_val });
    if (!current.found) return false;
    const tombstone: Content = { value: Buffer.alloc(0), contentType: 'application/octet-stream', lastModified: this.d.now(), deleted: true };
    await this.write(bucket, key, tombstone, context ?? current.context, opts);
    this.d.metrics.tombstones.inc();
    this.scheduleReap(bucket, key, opts.n_val);
    return true;
  }

  private scheduleReap(bucket: Buffer, key: Buffer, nOverride: number | undefined): void {
    const mode = this.d.deleteMode ?? DEFAULT_DELETE_MODE_MS;
    if (mode === 'keep') return;
    const pending = `${nOverride ?? ''}:${bucket.toString('hex')}:${key.toString('hex')}`;
    if (this.reapsPending.has(pending)) return;
    this.reapsPending.add(pending);
    const timer = setTimeout(() => {
      this.reapsPending.delete(pending);
      const bkey = this.bkey(bucket, key);
      const n = this.nval(this.d.buckets.get(bucket), nOverride);
      const targets = this.targets(bkey, n);
      // copies fallbacks wrote: the same partitions on every other member (all must be reachable to be sure)
      const members = Object.keys(this.d.ring().members);
      const up = this.d.upNodes();
      const elsewhere = members.every((m) => up.has(m)) ? targets.flatMap((t) => members.filter((m) => m !== t.node).map((node) => ({ ...t, node, primary: false }))) : undefined;
      reapTombstone(this.d.router, targets, n, bkey, elsewhere).then(
        (outcome) => this.d.metrics.tombstoneReaps.inc({ outcome }),
        () => this.d.metrics.tombstoneReaps.inc({ outcome: 'kept' }),
      );
    }, mode);
    timer.unref();
  }

  private write(bucket: Buffer, key: Buffer, content: Content, context: VClock | undefined, opts: PutOptions): Promise<PutResult> {
    const start = performance.now();
    let run: Promise<PutResult>;
    try {
      const bkey = this.bkey(bucket, key);
      const props = this.d.buckets.get(bucket);
      const n = this.nval(props, opts.n_val);
      const w = Math.max(resolveQuorum('w', opts.w ?? props.w, n), resolveQuorum('dw', opts.dw ?? props.dw, n));
      const shared = this.targets(bkey, n);
      // coordinate on a local vnode when we hold one: one network hop less, as riak's put forwarding achieves
      // (a reordered copy: the preference list is shared)
      const local = shared.findIndex((t) => t.node === this.d.self);
      const targets = local > 0 ? [shared[local]!, ...shared.slice(0, local), ...shared.slice(local + 1)] : shared;
      let fallbacks = 0;
      for (const t of targets) if (!t.primary) fallbacks++;
      if (fallbacks > 0) this.d.metrics.fallbackWrites.inc(fallbacks);
      run = new PutFsm(
        {
          bkey,
          targets,
          content,
          context,
          w,
          pw: resolveQuorum('pw', opts.pw ?? props.pw, n),
          lww: !props.allow_mult || props.last_write_wins,
          timeoutMs: opts.timeoutMs ?? this.d.timeoutMs,
          startedAt: start,
        },
        this.d.router,
        this.d.metrics,
      ).run();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.timed('put', run, start);
  }

  bucketProps(bucket: Buffer): BucketProps {
    return this.d.buckets.get(bucket);
  }

  async setBucketProps(bucket: Buffer, props: Partial<BucketProps>): Promise<BucketProps> {
    return this.d.buckets.set(bucket, validateProps(props, this.d.ring().ringSize));
  }

  count(bucket: Buffer): Promise<number> {
    return this.d.count(bucket);
  }

  scan(bucket: Buffer, cursor: number, count: number, match?: (key: Buffer) => boolean): Promise<{ cursor: number; keys: Buffer[] }> {
    if (!Number.isInteger(cursor) || cursor < 0 || cursor >= 2 ** 32) throw new BadRequestError('invalid cursor');
    return this.d.scan(bucket, cursor, count, match);
  }
}
