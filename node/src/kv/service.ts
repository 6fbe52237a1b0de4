import type { Metrics } from '../api/metrics.js';
import { keyHash32 } from '../ring/chash.js';
import type { Ring } from '../ring/ring.js';
import type { Content } from '../object/object.js';
import type { VClock } from '../object/vclock.js';
import type { BKey } from '../vnode/vnode.js';
import { validateProps, type BucketRegistry } from './buckets.js';
import { GetFsm } from './get_fsm.js';
import { preflist } from './preflist.js';
import { PutFsm } from './put_fsm.js';
import { reapTombstone } from './reaper.js';
import type { VnodeRouter } from './router.js';
import { resolveQuorum } from './tally.js';
import { BadRequestError, RequestTimeoutError, UnavailableError, type BucketProps, type GetOptions, type GetResult, type KvApi, type NewContent, type PutOptions, type PutResult } from './types.js';

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

export const MAX_BUCKET_BYTES = 0xffff;
export const DEFAULT_DELETE_MODE_MS = 3000;
export const MAX_KEY_BYTES = 65536;

/**
 * The front ends' entry point: turns a client request into a coordinator run
 * with the bucket's properties and the request's overrides.
 */
export class KvService implements KvApi {
  constructor(private readonly d: KvServiceDeps) {}

  private bkey(bucket: Buffer, key: Buffer): BKey {
    if (bucket.length === 0) throw new BadRequestError('bucket name must not be empty');
    if (bucket.length > MAX_BUCKET_BYTES) throw new BadRequestError(`bucket name longer than ${MAX_BUCKET_BYTES} bytes`);
    if (key.length > MAX_KEY_BYTES) throw new BadRequestError(`key longer than ${MAX_KEY_BYTES} bytes`);
    return { bucket, key, hash32: keyHash32(bucket, key) };
  }

  private nval(props: BucketProps, override: number | undefined): number {
    const n = override ?? props.n_val;
    if (!Number.isInteger(n) || n < 1 || n > this.d.ring().ringSize) throw new BadRequestError(`n_val must be between 1 and the ring size`);
    return n;
  }

  async get(bucket: Buffer, key: Buffer, opts: GetOptions = {}): Promise<GetResult> {
    const bkey = this.bkey(bucket, key);
    const props = this.d.buckets.get(bucket);
    const n = this.nval(props, opts.n_val);
    const fsm = new GetFsm(
      {
        bkey,
        targets: preflist(this.d.ring(), bkey.hash32, n, this.d.upNodes()),
        r: resolveQuorum('r', opts.r ?? props.r, n),
        pr: resolveQuorum('pr', opts.pr ?? props.pr, n),
        lww: !props.allow_mult || props.last_write_wins,
        timeoutMs: opts.timeoutMs ?? this.d.timeoutMs,
      },
      this.d.router,
      this.d.metrics,
      this.d.now,
    );
    return this.timed('get', fsm.run(), (r) => (r.found ? 'ok' : 'notfound'));
  }

  /** Coordinator latency by quorum outcome: ok, notfound, unavailable, timeout, error. */
  private async timed<T>(op: string, run: Promise<T>, outcomeOf: (r: T) => string): Promise<T> {
    const end = this.d.metrics.coordinatorDuration.startTimer({ op });
    try {
      const r = await run;
      end({ outcome: outcomeOf(r) });
      return r;
    } catch (e) {
      end({ outcome: e instanceof UnavailableError ? 'unavailable' : e instanceof RequestTimeoutError ? 'timeout' : 'error' });
      throw e;
    }
  }

  async put(bucket: Buffer, key: Buffer, content: NewContent, context: VClock | undefined, opts: PutOptions = {}): Promise<PutResult> {
    const full: Content = { value: content.value, contentType: content.contentType, lastModified: this.d.now(), deleted: false };
    if (content.expiresAt !== undefined) full.expiresAt = content.expiresAt;
    return this.write(bucket, key, full, opts.overwrite ? undefined : (context ?? {}), opts);
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
    const timer = setTimeout(() => {
      const bkey = this.bkey(bucket, key);
      const n = this.nval(this.d.buckets.get(bucket), nOverride);
      const targets = preflist(this.d.ring(), bkey.hash32, n, this.d.upNodes());
      reapTombstone(this.d.router, targets, n, bkey).then(
        (outcome) => this.d.metrics.tombstoneReaps.inc({ outcome }),
        () => this.d.metrics.tombstoneReaps.inc({ outcome: 'kept' }),
      );
    }, mode);
    timer.unref();
  }

  private write(bucket: Buffer, key: Buffer, content: Content, context: VClock | undefined, opts: PutOptions): Promise<PutResult> {
    const bkey = this.bkey(bucket, key);
    const props = this.d.buckets.get(bucket);
    const n = this.nval(props, opts.n_val);
    const w = Math.max(resolveQuorum('w', opts.w ?? props.w, n), resolveQuorum('dw', opts.dw ?? props.dw, n));
    const targets = preflist(this.d.ring(), bkey.hash32, n, this.d.upNodes());
    // coordinate on a local vnode when we hold one: one network hop less, as riak's put forwarding achieves
    const local = targets.findIndex((t) => t.node === this.d.self);
    if (local > 0) targets.unshift(...targets.splice(local, 1));
    const fallbacks = targets.filter((t) => !t.primary).length;
    if (fallbacks > 0) this.d.metrics.fallbackWrites.inc(fallbacks);
    const fsm = new PutFsm(
      {
        bkey,
        targets,
        content,
        context,
        w,
        pw: resolveQuorum('pw', opts.pw ?? props.pw, n),
        lww: !props.allow_mult || props.last_write_wins,
        timeoutMs: opts.timeoutMs ?? this.d.timeoutMs,
      },
      this.d.router,
      this.d.metrics,
    );
    return this.timed('put', fsm.run(), () => 'ok');
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
