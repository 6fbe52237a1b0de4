import { Buffer } from 'node:buffer';
import { access, constants, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Backend, BatchOp, BatchOptions, CachedEntry, CompactionStats, FoldOptions, FoldVisitor, KeyRange } from './backend.js';

/** The slice of the rocksdb@5 (abstract-leveldown 7) API we use; the package ships no types. */
type Callback = (err?: Error | null) => void;
interface RawIterator {
  next(cb: (err: Error | null | undefined, key?: Buffer, value?: Buffer) => void): void;
  end(cb: Callback): void;
  /**
   * The binding's read-ahead: the entries its last native read returned that
   * next() has not handed out yet, newest last as [..., value2, key2, value1, key1]
   * (next() pops key, then value).
   */
  cache?: unknown;
}
interface RawDb {
  open(opts: Record<string, unknown>, cb: Callback): void;
  close(cb: Callback): void;
  getMany(keys: Buffer[], opts: Record<string, unknown>, cb: (err: Error | null | undefined, values?: (Buffer | undefined)[]) => void): void;
  batch(ops: readonly (BatchOp | GroupOp)[], opts: Record<string, unknown>, cb: Callback): void;
  clear(opts: { gte: Buffer; lt: Buffer }, cb: Callback): void;
  compactRange(start: Buffer, end: Buffer, cb: Callback): void;
  iterator(opts: Record<string, unknown>): RawIterator;
  getProperty(name: string): string;
}
const rocksdb = createRequire(import.meta.url)('rocksdb') as (location: string) => RawDb;

const EMPTY = Buffer.alloc(0);
const noop = (): void => {};

export interface RocksDbOptions {
  /** fsync the WAL before acknowledging a write (default false: WAL written, not synced). */
  sync?: boolean;
  /** block cache in bytes (default 64 MiB) */
  cacheSize?: number;
  /** bytes of recently read or written entries kept in the process (default 16 MiB, 0 for none) */
  rowCacheSize?: number;
}

/** Quiet time after the last dropped range before the dropped ranges are compacted. */
const COMPACT_AFTER_MS = 2000;

/** Bookkeeping bytes counted per row cache entry on top of key and value. */
const ROW_OVERHEAD = 64;

interface Row {
  /** null: the key is known to be absent */
  value: Buffer | null;
  cost: number;
  /** a reader's decoded form of value (see Backend.peekCached) */
  memo: unknown;
}

/**
 * The row cache's storage: key (latin1) -> row, bounded in bytes, evicting in
 * first-insertion order (a row rewritten in place keeps its place). The order
 * is a plain array consumed from its head: iterating a Map from its start after
 * many deletions walks every deleted slot, which would make eviction quadratic.
 */
export class RowCache {
  private readonly rows = new Map<string, Row>();
  private order: string[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly limit: number) {}

  get(k: string): Buffer | null | undefined {
    return this.rows.get(k)?.value;
  }

  /** The row itself, for readers that keep a memo with it. */
  row(k: string): Row | undefined {
    return this.rows.get(k);
  }

  set(k: string, value: Buffer | undefined, memo: unknown = undefined): void {
    if (this.limit === 0) return;
    const cost = k.length + (value?.length ?? 0) + ROW_OVERHEAD;
    const row = this.rows.get(k);
    // one entry may not take more than an eighth of the cache
    if (cost > this.limit >>> 3) {
      if (row !== undefined) this.delete(k);
      return;
    }
    if (row !== undefined) {
      this.bytes += cost - row.cost;
      row.value = value ?? null;
      row.cost = cost;
      row.memo = memo;
    } else {
      this.rows.set(k, { value: value ?? null, cost, memo });
      this.order.push(k);
      this.bytes += cost;
    }
    while (this.bytes > this.limit && this.head < this.order.length) this.delete(this.order[this.head++]!);
    this.tidy();
  }

  delete(k: string): void {
    const row = this.rows.get(k);
    if (row === undefined) return;
    this.rows.delete(k);
    this.bytes -= row.cost;
  }

  deleteRange(range: KeyRange): void {
    for (const k of [...this.rows.keys()]) if (inRange(Buffer.from(k, 'latin1'), range)) this.delete(k);
    this.tidy();
  }

  clear(): void {
    this.rows.clear();
    this.order = [];
    this.head = 0;
    this.bytes = 0;
  }

  /** Drops consumed and stale (deleted, or deleted and re-added) keys from the order once they dominate it. */
  private tidy(): void {
    const pending = this.order.length - this.head;
    if (pending > 2 * this.rows.size + 1024) {
      this.order = [...this.rows.keys()];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * A group of writes that go to RocksDB together: either one db.batch holding
 * every put/del issued while the previous group was queued or running, or one
 * dropRange. Groups run one at a time, because two writes in flight on the
 * libuv pool could land in either order.
 */
/**
 * An op of a group, rewritten in place by a later write of its key while the
 * group waits (the batch is atomic, so only the last write of a key in it
 * counts). cold: a bulk write's op, whose buffers the row cache must not keep
 * (they may pin a whole frame).
 */
interface GroupOp {
  type: 'put' | 'del';
  key: Buffer;
  value?: Buffer;
  cold?: boolean;
  /** the key as its latin1 string: made (and hashed) once for the overlay and the row cache */
  k: string;
}

interface WriteGroup {
  ops: GroupOp[];
  range?: KeyRange;
  done: Promise<void>;
  settle: (err?: Error | null) => void;
}

/** The newest not yet durable write of a key, which reads must not overtake. */
interface PendingWrite {
  key: Buffer;
  value: Buffer | undefined;
  done: Promise<void>;
  /** the write itself; none for a key covered by a pending dropRange */
  op?: GroupOp;
  /** see CachedEntry: kept by the row the write leaves */
  memo: unknown;
}

function newGroup(range?: KeyRange): WriteGroup {
  let settle!: WriteGroup['settle'];
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  // Callers see the error through their own await; this only keeps the internal copies quiet.
  done.catch(noop);
  return { ops: [], range, done, settle };
}

/** Checked when an op is issued, so one caller's bad op cannot fail the others in its flush. */
function invalid(key: unknown, op?: BatchOp): Error | undefined {
  // abstract-leveldown rejects empty keys (and would read an empty range bound as unbounded).
  if (!Buffer.isBuffer(key) || key.length === 0) return new TypeError('backend key must be a non-empty Buffer');
  if (op?.type === 'put' && !Buffer.isBuffer(op.value)) return new TypeError('backend value must be a Buffer');
  return undefined;
}

function inRange(key: Buffer, range: KeyRange): boolean {
  return Buffer.compare(key, range.gte) >= 0 && Buffer.compare(key, range.lt) < 0;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function openError(dir: string, err: unknown): Error {
  const raw = toError(err).message.replace(/\s+/g, ' ').trim();
  const code = (err as NodeJS.ErrnoException).code;
  let why = raw;
  if (/\block\b/i.test(raw)) why = `it is locked by another process or an earlier open in this one (${raw})`;
  else if (code === 'EACCES' || code === 'EPERM') why = 'permission denied';
  else if (code === 'ENOTDIR' || code === 'EEXIST') why = 'a path component is not a directory';
  return new Error(`cannot open RocksDB at ${dir}: ${why}`, { cause: err });
}

/**
 * RocksDB through the Level binding. Point operations are coalesced: reads
 * issued in the same turn of the event loop become one getMany, writes become
 * one atomic db.batch (group commit), which is what keeps per-request overhead
 * near redis' when many clients are active.
 */
export class RocksDbBackend implements Backend {
  readonly name = 'rocksdb' as const;
  private readonly queue: WriteGroup[] = [];
  private running: WriteGroup | undefined;
  private readonly pending = new Map<string, PendingWrite>();
  private readonly drops: WriteGroup[] = [];
  private readKeys: Buffer[] = [];
  /** readKeys as latin1 strings */
  private readKeyStrings: string[] = [];
  private readWaiters: { resolve: (value: Buffer | undefined) => void; reject: (err: Error) => void }[] = [];
  /** dropSeq when the first read of the pending getMany was queued */
  private readDropSeq = 0;
  /** reads queued or running, by key */
  private readonly readsOf = new Map<string, number>();
  /** keys written while a read of them was queued or running: what those reads return may be stale */
  private readonly writtenDuringRead = new Set<string>();
  /**
   * The row cache: key (latin1) -> value, null for a key known to be absent.
   * A point read costs a thread pool round trip (a few microseconds of this
   * thread plus a wake-up of a pool thread), which dwarfs the read itself;
   * hot keys are served from here instead. Entries are what the database
   * holds: written when a write group succeeds (never while it is pending:
   * reads of a pending key go to the overlay) and filled by a read only when
   * no write of its key and no drop was issued meanwhile, so a busy node
   * still warms it. Oldest entries go first when it is full.
   */
  private readonly rows: RowCache;
  /** bumped by every drop issued: a read that saw it change may be stale */
  private dropSeq = 0;
  private flushScheduled = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  /** dropped ranges waiting for their compaction */
  private compaction: { gte: Buffer; lt: Buffer; timer: NodeJS.Timeout | undefined } | undefined;

  private constructor(
    readonly dir: string,
    private readonly db: RawDb,
    private readonly writeOpts: { sync: boolean },
    rowLimit: number,
  ) {
    this.rows = new RowCache(rowLimit);
  }

  static async open(dir: string, opts: RocksDbOptions = {}): Promise<RocksDbBackend> {
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    } catch (err) {
      throw openError(dir, err);
    }
    const db = rocksdb(dir);
    const cacheSize = Math.min(opts.cacheSize ?? 64 << 20, 2 ** 32 - 1);
    await new Promise<void>((resolve, reject) => {
      db.open({ createIfMissing: true, cacheSize, writeBufferSize: 32 << 20 }, (err) =>
        err ? reject(openError(dir, err)) : resolve(),
      );
    });
    return new RocksDbBackend(dir, db, { sync: opts.sync ?? false }, Math.max(0, opts.rowCacheSize ?? 16 << 20));
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.read(key);
  }

  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    return Promise.all(keys.map((key) => this.read(key)));
  }

  put(key: Buffer, value: Buffer): Promise<void> {
    return this.write([{ type: 'put', key, value }]);
  }

  del(key: Buffer): Promise<void> {
    return this.write([{ type: 'del', key }]);
  }

  batch(ops: BatchOp[], opts?: BatchOptions): Promise<void> {
    return this.write(ops, opts?.bulk === true);
  }

  fold(range: KeyRange, visit: FoldVisitor, opts: FoldOptions = {}): Promise<number> {
    if (this.closing) return Promise.reject(this.closedError());
    if (Buffer.compare(range.gte, range.lt) >= 0 || (opts.limit !== undefined && opts.limit <= 0)) {
      return Promise.resolve(0);
    }
    // Waiting for the writes issued so far gives the fold read-your-writes, as for point reads.
    const last = this.queue.at(-1) ?? this.running;
    const p = (last ? last.done.catch(noop) : Promise.resolve()).then(() => this.iterate(range, visit, opts));
    this.track(p);
    return p;
  }

  async isEmpty(range: KeyRange): Promise<boolean> {
    return (await this.fold(range, () => false, { limit: 1, keysOnly: true })) === 0;
  }

  dropRange(range: KeyRange): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    if (Buffer.compare(range.gte, range.lt) >= 0) return Promise.resolve();
    const group = newGroup({ gte: Buffer.from(range.gte), lt: Buffer.from(range.lt) });
    this.queue.push(group);
    this.drops.push(group);
    this.dropSeq++;
    this.rows.deleteRange(range);
    for (const [k, w] of this.pending) {
      if (inRange(w.key, range)) this.pending.set(k, { key: w.key, value: undefined, done: group.done, memo: undefined });
    }
    this.schedule();
    return group.done.then(() => this.compactLater(group.range!));
  }

  /**
   * db.clear leaves one tombstone per key, which later folds over the range
   * wade through until a compaction drops them. Compacting at once would,
   * with the data still in level 0, rewrite every level-0 file while handoffs
   * run on the same thread pool; so the dropped ranges are compacted together
   * once no drop has come for a while (a leave or a join drops many in a row).
   */
  private compactLater(range: KeyRange): void {
    if (this.closing) return;
    const c = (this.compaction ??= { gte: range.gte, lt: range.lt, timer: undefined });
    if (Buffer.compare(range.gte, c.gte) < 0) c.gte = range.gte;
    if (Buffer.compare(range.lt, c.lt) > 0) c.lt = range.lt;
    if (c.timer) clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      this.compaction = undefined;
      if (this.closing) return;
      this.track(new Promise<void>((resolve) => this.db.compactRange(c.gte, c.lt, () => resolve())));
    }, COMPACT_AFTER_MS);
    c.timer.unref();
  }

  async approximateSize(): Promise<number> {
    if (this.closing) throw this.closedError();
    // The binding's approximateSize() counts SST files only, so fresh writes
    // would not show until a flush; the memtables are added from their own property.
    const prop = (name: string): number => Number(this.db.getProperty(name)) || 0;
    return prop('rocksdb.estimate-live-data-size') + prop('rocksdb.cur-size-all-mem-tables');
  }

  peekCached(k: string): CachedEntry | null | undefined {
    if (this.closing || k.length === 0) return undefined;
    // a write or drop not yet landed decides the answer: only read() knows to wait for it
    if (this.pending.has(k) || this.drops.length > 0) return undefined;
    return this.cachedRow(k);
  }

  peekLatest(k: string): CachedEntry | null | undefined {
    if (this.closing || k.length === 0 || this.drops.length > 0) return undefined;
    const w = this.pending.get(k);
    if (w !== undefined) return w.value === undefined ? null : (w as CachedEntry);
    return this.cachedRow(k);
  }

  /** The row cache's answer for a key: its entry, null when known absent, undefined when not cached. */
  private cachedRow(k: string): CachedEntry | null | undefined {
    const row = this.rows.row(k);
    if (row === undefined) return undefined;
    return row.value === null ? null : (row as CachedEntry);
  }

  putLatest(k: string, value: Buffer, memo: unknown): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    const key = Buffer.from(k, 'latin1');
    const bad = invalid(key, { type: 'put', key, value });
    if (bad) return Promise.reject(bad);
    return this.enqueue({ type: 'put', key, value, k }, memo);
  }

  compactionStats(): CompactionStats {
    if (this.closing) return { running: 0, pendingBytes: 0 };
    const prop = (name: string): number => Number(this.db.getProperty(name)) || 0;
    return {
      running: prop('rocksdb.num-running-compactions') + prop('rocksdb.num-running-flushes'),
      pendingBytes: prop('rocksdb.estimate-pending-compaction-bytes'),
    };
  }

  close(): Promise<void> {
    if (this.compaction?.timer) clearTimeout(this.compaction.timer);
    this.compaction = undefined;
    this.closing ??= this.drain().then(
      () => new Promise<void>((resolve, reject) => this.db.close((err) => (err ? reject(toError(err)) : resolve()))),
    );
    this.rows.clear();
    return this.closing;
  }

  private closedError(): Error {
    return new Error(`RocksDB backend at ${this.dir} is closed`);
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    const forget = (): void => void this.inflight.delete(p);
    p.then(forget, forget);
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate rather than nextTick: everything issued by the socket
    // events of one poll phase then shares a single flush.
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.flushReads();
    this.pumpWrites();
  };

  private read(key: Buffer): Promise<Buffer | undefined> {
    const bad = this.closing ? this.closedError() : invalid(key);
    if (bad) return Promise.reject(bad);
    const k = key.toString('latin1');
    const w = this.pending.get(k);
    // A failed write leaves the database as it was, so the read retries from there.
    if (w) return w.done.then(() => w.value, () => this.read(key));
    for (let i = this.drops.length - 1; i >= 0; i--) {
      const d = this.drops[i];
      if (inRange(key, d.range!)) return d.done.then(() => undefined, () => this.read(key));
    }
    const row = this.rows.get(k);
    if (row !== undefined) return Promise.resolve(row ?? undefined);
    return new Promise((resolve, reject) => {
      if (this.readKeys.length === 0) this.readDropSeq = this.dropSeq;
      this.readKeys.push(key);
      this.readKeyStrings.push(k);
      this.readsOf.set(k, (this.readsOf.get(k) ?? 0) + 1);
      this.readWaiters.push({ resolve, reject });
      this.schedule();
    });
  }

  private flushReads(): void {
    if (this.readKeys.length === 0) return;
    const keys = this.readKeys;
    const strings = this.readKeyStrings;
    const waiters = this.readWaiters;
    const dropSeq = this.readDropSeq;
    this.readKeys = [];
    this.readKeyStrings = [];
    this.readWaiters = [];
    const p = new Promise<void>((resolve) => {
      const finish = (err: unknown, values?: (Buffer | undefined)[]): void => {
        // Only what no write of the key and no drop issued since the read was queued can have changed is kept.
        const keep = !err && values !== undefined && dropSeq === this.dropSeq && !this.closing;
        for (let i = 0; i < strings.length; i++) {
          const k = strings[i]!;
          if (keep && !this.writtenDuringRead.has(k)) this.rows.set(k, values[i]);
          const left = this.readsOf.get(k)! - 1;
          if (left > 0) this.readsOf.set(k, left);
          else {
            this.readsOf.delete(k);
            this.writtenDuringRead.delete(k);
          }
        }
        if (err || !values) for (const w of waiters) w.reject(toError(err ?? 'getMany returned no values'));
        else for (let i = 0; i < waiters.length; i++) waiters[i].resolve(values[i]);
        resolve();
      };
      try {
        this.db.getMany(keys, { fillCache: true }, finish);
      } catch (err) {
        finish(err);
      }
    });
    this.track(p);
  }

  private write(ops: BatchOp[], bulk = false): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    for (const op of ops) {
      const bad = invalid(op.key, op);
      if (bad) return Promise.reject(bad);
    }
    if (ops.length === 0) return Promise.resolve();
    let done!: Promise<void>;
    for (const op of ops) {
      // Copies, because the batch is written later and callers may reuse their buffers (a bulk caller does not).
      const key = bulk ? op.key : Buffer.from(op.key);
      const value = op.type === 'put' ? (bulk ? op.value : Buffer.from(op.value)) : undefined;
      const k = key.toString('latin1');
      done = this.enqueue(value ? { type: 'put', key, value, cold: bulk, k } : { type: 'del', key, k }, undefined);
    }
    return done;
  }

  /** Adds a checked op whose buffers are ours to the open write group; resolves when the group is durable. */
  private enqueue(op: GroupOp, memo: unknown): Promise<void> {
    if (this.readsOf.has(op.k)) this.writtenDuringRead.add(op.k);
    let group = this.queue.at(-1);
    if (!group || group.range) {
      group = newGroup();
      this.queue.push(group);
    }
    const k = op.k;
    const prev = this.pending.get(k);
    if (prev?.done === group.done && prev.op !== undefined) {
      // the key is written in this waiting group already: a hot key costs one op per batch, not one per write
      prev.op.type = op.type;
      prev.op.value = op.value;
      prev.op.cold = op.cold;
      op = prev.op;
    } else {
      group.ops.push(op);
    }
    this.pending.set(k, { key: op.key, value: op.type === 'put' ? op.value : undefined, done: group.done, op, memo });
    this.schedule();
    return group.done;
  }

  private pumpWrites(): void {
    if (this.running || this.queue.length === 0) return;
    const group = this.queue.shift()!;
    this.running = group;
    const finish = (err?: Error | null): void => {
      this.running = undefined;
      this.forget(group, !err);
      group.settle(err ? toError(err) : undefined);
      this.pumpWrites();
    };
    try {
      if (group.range) this.db.clear(group.range, finish);
      else this.db.batch(group.ops, this.writeOpts, finish);
    } catch (err) {
      finish(toError(err));
    }
  }

  /**
   * Drops the read overlay entries that a finished group was the newest write
   * for, and brings the row cache up to date: what the group wrote when it
   * succeeded (later groups overwrite it when they land), nothing of its keys
   * when it failed.
   */
  private forget(group: WriteGroup, ok: boolean): void {
    if (group.range) {
      this.drops.splice(this.drops.indexOf(group), 1);
      for (const [k, w] of this.pending) if (w.done === group.done) this.pending.delete(k);
      this.rows.deleteRange(group.range);
      return;
    }
    for (const op of group.ops) {
      const k = op.k;
      const w = this.pending.get(k);
      if (w?.op === op) {
        // the newest write of its key: the row becomes what it wrote (with its memo), or unknown if it failed
        this.pending.delete(k);
        if (ok && !this.closing && !op.cold) this.rows.set(k, op.value, w.memo);
        else this.rows.delete(k);
      } else if (w?.done !== group.done) {
        // a later group writes the key again and fixes the row when it lands
        this.rows.delete(k);
      }
    }
  }

  private async iterate(range: KeyRange, visit: FoldVisitor, opts: FoldOptions): Promise<number> {
    const it = this.db.iterator({
      gte: range.gte,
      lt: range.lt,
      keys: true,
      values: !opts.keysOnly,
      // The binding reads limit as an int32; -1 means none.
      limit: opts.limit === undefined || opts.limit >= 2 ** 31 ? -1 : Math.ceil(opts.limit),
      // A whole-partition fold (handoff, drop) must not evict the hot point-read set.
      fillCache: false,
      highWaterMark: 256 * 1024,
    });
    let count = 0;
    let failure: unknown;
    try {
      entries: for (;;) {
        if (this.closing) throw new Error(`fold aborted: RocksDB backend at ${this.dir} is closing`);
        const entry = await new Promise<[Buffer, Buffer] | undefined>((resolve, reject) =>
          it.next((err, key, value) => {
            if (err) reject(toError(err));
            else resolve(key === undefined ? undefined : [key, value ?? EMPTY]);
          }),
        );
        if (!entry) break;
        count++;
        if (visit(entry[0], entry[1]) === false) break;
        // The rest of the binding's read-ahead is visited in this same turn: next() would hand
        // it out one process.nextTick and one promise per entry, a quarter of a handoff's fold.
        const ahead = it.cache;
        while (Array.isArray(ahead) && ahead.length >= 2) {
          const key = ahead.pop() as Buffer;
          const value = ahead.pop() as Buffer | undefined;
          count++;
          if (visit(key, value ?? EMPTY) === false) break entries;
        }
      }
    } catch (err) {
      failure = err;
    }
    // Ended on every path: an iterator left open pins its snapshot and blocks close.
    await new Promise<void>((resolve) => it.end((err) => {
      if (err) failure ??= err;
      resolve();
    }));
    if (failure !== undefined) throw failure;
    return count;
  }

  /** Resolves once every queued and running operation has finished. */
  private async drain(): Promise<void> {
    for (;;) {
      if (this.flushScheduled) await new Promise<void>((resolve) => setImmediate(resolve));
      const busy: Promise<unknown>[] = [...this.inflight, ...this.queue.map((g) => g.done)];
      if (this.running) busy.push(this.running.done);
      if (busy.length === 0 && !this.flushScheduled) return;
      await Promise.allSettled(busy);
    }
  }
}
