import { Buffer } from 'node:buffer';
import type { Backend, BatchOp } from '../backend/backend.js';
import { decodeStorageKey, encodeStorageKey, storageKeyString, vnodeRange } from '../backend/storage_key.js';
import { decodeObject, encodeObject } from '../object/codec.js';
import { applyWrite, mergeReplicas, resolveLastWriteWins, type Content, type RkvObject } from '../object/object.js';
import { clocksEqual, type VClock } from '../object/vclock.js';
import { KeyLock } from './key_lock.js';
import { syncPointAccess, type MemoEntry, type SyncPointAccess } from '../backend/memory.js';

const ZERO = Buffer.from([0]);
/** absentAfter of a vnode known to hold nothing: every (non-empty) storage key sorts after it */
const NOTHING_STORED = Buffer.alloc(0);

export interface BKey {
  bucket: Buffer;
  key: Buffer;
  hash32: number;
  /**
   * the key's storage key strings, made once per replica by whoever first
   * needs them. They belong to the bytes of bucket and key: the KeyCache
   * hands one object to every BKey of the same bytes, and a BKey is never
   * copied with other bytes (the lengths and hash are checked as a guard).
   */
  strings?: KeyStrings;
}

/** Storage key strings a BKey keeps: replicas and fallbacks of one key, with room to spare. */
const MAX_KEY_STRINGS = 8;

/** A key's storage key strings (storageKeyString), by the vnode they were made for. */
export interface KeyStrings {
  bucketLength: number;
  keyLength: number;
  hash32: number;
  vnodes: Vnode[];
  keys: string[];
}

export function newKeyStrings(b: BKey): KeyStrings {
  return { bucketLength: b.bucket.length, keyLength: b.key.length, hash32: b.hash32, vnodes: [], keys: [] };
}

/** A write done in the caller's turn: the stored object, and when it is not durable yet, the promise that it will be. */
export interface WrittenNow {
  obj: RkvObject;
  durable: Promise<void> | undefined;
}

/** One read-modify-write step: the object to store, given the stored one. */
type Update = (local: RkvObject | undefined) => RkvObject;

interface QueuedUpdate {
  update: Update;
  resolve: (obj: RkvObject) => void;
  reject: (err: Error) => void;
}

export interface ObjectVisitor {
  (bkey: BKey, object: RkvObject): boolean | void;
}

/** How a vnode names its DVV actor: one name per generation, a new generation whenever it drops its data. */
export interface VnodeActors {
  /** the generation to start at */
  generation: number;
  /** the last dot counter the vnode issued before (kept across a clean shutdown) */
  issued: number;
  actorOf(generation: number): string;
}

/**
 * One partition's replica store: the riak_kv_vnode of rkv. It owns the slice of
 * the node's backend whose keys start with its (ring size, partition) prefix and
 * is the only writer of that slice.
 */
export class Vnode {
  private readonly lock = new KeyLock();
  /** set when the backend can run a read-modify-write synchronously (memory) */
  private readonly sync: SyncPointAccess | undefined;
  /** updates waiting for the next cycle of a key whose cycle is queued or running, by lock id */
  private readonly waiting = new Map<string, QueuedUpdate[]>();
  /**
   * Every storage key of the vnode after this one is known absent; the empty
   * key (NOTHING_STORED) when the vnode is known to hold nothing at all (after
   * a drop or an empty isEmpty, with no write since). Every write of the
   * vnode's range goes through this object, so the handoff manager's periodic
   * isEmpty checks of partitions it no longer owns cost nothing, instead of a
   * fold over the tombstones a drop leaves; and merges in key order into an
   * empty vnode (a handoff) move the bound up instead of reading.
   */
  private absentAfter: Buffer | undefined;
  /** bumped by every write issued: an emptiness seen by a backend call that overlapped one is not kept */
  private writes = 0;

  /** DVV actor for the writes this vnode coordinates (see VnodeActors) */
  actor: string;
  private generation: number;
  /** the last dot counter issued, for any key: every new dot is above it */
  private issued: number;

  constructor(
    readonly partition: number,
    private readonly ringLog2: number,
    private readonly backend: Backend,
    private readonly actors: VnodeActors,
  ) {
    this.sync = syncPointAccess(backend);
    this.generation = actors.generation;
    this.actor = actors.actorOf(this.generation);
    this.issued = actors.issued;
  }

  /**
   * The storage key as the latin1 string in-memory maps are keyed by (see
   * storageKeyString). One string per replica and key, kept with the BKey's
   * strings: V8 keeps a string's hash, so every later lookup with it is cheap.
   */
  private keyString(b: BKey): string {
    let t = b.strings;
    if (t === undefined || t.hash32 !== b.hash32 || t.keyLength !== b.key.length || t.bucketLength !== b.bucket.length) t = b.strings = newKeyStrings(b);
    const i = t.vnodes.indexOf(this);
    if (i >= 0) return t.keys[i]!;
    // a key cached for long outlives vnodes (ring changes, handoffs): keep the list short
    if (t.vnodes.length >= MAX_KEY_STRINGS) {
      t.vnodes = [];
      t.keys = [];
    }
    const k = storageKeyString(this.ringLog2, this.partition, b.hash32, b.bucket, b.key);
    t.vnodes.push(this);
    t.keys.push(k);
    return k;
  }

  private storageKey(b: BKey): Buffer {
    return encodeStorageKey({ ringLog2: this.ringLog2, partition: this.partition, hash32: b.hash32, bucket: b.bucket, key: b.key });
  }

  get(b: BKey): Promise<RkvObject | undefined> {
    try {
      if (this.sync === undefined) return this.backend.get(this.storageKey(b)).then((raw) => (raw ? decodeObject(raw) : undefined));
      const entry = this.sync.peek(this.keyString(b));
      return Promise.resolve(entry ? decodedMemo(entry) : undefined);
    } catch (err) {
      return Promise.reject(toError(err));
    }
  }

  /**
   * True when a write of this vnode may be tried in one synchronous step
   * (writeReady, then a *Now method in the same turn): no update queued or
   * running, and a backend that is in-process or can build on its latest
   * issued writes (RocksDB's row cache and write overlay).
   */
  get immediate(): boolean {
    return (this.sync !== undefined || this.backend.peekLatest !== undefined) && this.waiting.size === 0 && this.lock.size === 0;
  }

  /**
   * True when a read may be tried in one synchronous step (readNow): no update
   * queued or running, and a backend that is in-process or caches rows.
   */
  get readable(): boolean {
    return (this.sync !== undefined || this.backend.peekCached !== undefined) && this.waiting.size === 0 && this.lock.size === 0;
  }

  /**
   * get() in one synchronous step, only while `readable`: the object, null
   * when there is none, undefined when the backend cannot tell without an
   * asynchronous read (a RocksDB row not cached or with a write in flight).
   */
  readNow(b: BKey): RkvObject | null | undefined {
    const k = this.keyString(b);
    const entry = this.sync !== undefined ? this.sync.peek(k) ?? null : this.backend.peekCached!(k);
    return entry ? decodedMemo(entry) : entry;
  }

  /**
   * While `immediate`: the key's current entry when a *Now write of it can
   * run in this turn (null: known absent), undefined when it cannot (not
   * known here). The entry is handed to that write, in the same turn.
   */
  writeReady(b: BKey): MemoEntry | null | undefined {
    const k = this.keyString(b);
    return this.sync !== undefined ? this.sync.peek(k) ?? null : this.backend.peekLatest!(k);
  }

  /** coordinatePut() in one synchronous step, given what writeReady returned in the same turn. */
  coordinatePutNow(b: BKey, current: MemoEntry | null, content: Content, context: VClock | undefined, lww: boolean): WrittenNow {
    return this.storeNow(b, current, this.coordinated(current ? decodedMemo(current) : undefined, content, context, lww));
  }

  /** mergePut() in one synchronous step, given what writeReady returned in the same turn. */
  mergePutNow(b: BKey, current: MemoEntry | null, incoming: RkvObject, lww: boolean): WrittenNow {
    return this.storeNow(b, current, mergedReplica(current ? decodedMemo(current) : undefined, incoming, lww));
  }

  /**
   * Stores in this turn what a read-modify-write made of the key's current
   * entry (as writeReady returned it in this turn). On RocksDB the write is
   * issued (later reads and writes of the key are ordered after it) and its
   * durability is reported apart; on the memory backend it is done.
   */
  private storeNow(b: BKey, current: MemoEntry | null, obj: RkvObject): WrittenNow {
    const k = this.keyString(b);
    this.wrote();
    if (this.sync === undefined) return { obj, durable: this.backend.putLatest!(k, encodedOnce(obj), obj) };
    if (current) this.sync.replaceMemo(current, obj, encodeMemo, encodedSizeHint(obj));
    else this.sync.putMemo(k, obj, encodeMemo, encodedSizeHint(obj));
    return { obj, durable: undefined };
  }

  /**
   * A write this vnode coordinates: advances its own DVV entry. With
   * `context` undefined the write supersedes whatever this replica holds.
   */
  coordinatePut(b: BKey, content: Content, context: VClock | undefined, lww: boolean): Promise<RkvObject> {
    return this.update(b, (local) => this.coordinated(local, content, context, lww));
  }

  /** A replica write (from a coordinator, read repair or handoff): merged, never blindly overwritten. */
  mergePut(b: BKey, incoming: RkvObject, lww: boolean): Promise<RkvObject> {
    return this.update(b, (local) => mergedReplica(local, incoming, lww));
  }

  /**
   * Replica writes in bulk (handoff and resize batches): each object is merged
   * with the stored one like mergePut, but the batch reads its keys with one
   * getMany (none when the vnode is known to be empty) and writes them with one
   * batch, holding all of them meanwhile. An object that the merge leaves as it
   * came is stored in the encoding it came in (`raw`), not re-encoded.
   */
  mergeMany(items: { bkey: BKey; obj: RkvObject; raw?: Buffer }[], lww: (bucket: Buffer) => boolean): Promise<void> {
    let sks: Buffer[];
    try {
      sks = items.map((i) => this.storageKey(i.bkey));
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return this.mergeAt(sks, items, lww);
  }

  /**
   * mergeMany for entries as another vnode of the same ring size and partition
   * stored them (storage key, encoded object): a handoff batch. Every key is
   * checked to belong to this vnode, so a garbled batch is refused whole.
   */
  mergeStored(entries: { sk: Buffer; raw: Buffer }[], lww: (bucket: Buffer) => boolean): Promise<void> {
    const items: { bkey: BKey; raw: Buffer }[] = new Array(entries.length);
    try {
      for (let i = 0; i < entries.length; i++) {
        const { sk, raw } = entries[i]!;
        const d = decodeStorageKey(sk);
        if (d.ringLog2 !== this.ringLog2 || d.partition !== this.partition) {
          throw new Error(`entry of vnode ${d.partition}/${2 ** d.ringLog2} sent to vnode ${this.partition}/${2 ** this.ringLog2}`);
        }
        items[i] = { bkey: d, raw };
      }
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return this.mergeAt(entries.map((e) => e.sk), items, lww);
  }

  private mergeAt(sks: Buffer[], items: { bkey: BKey; obj?: RkvObject; raw?: Buffer }[], lww: (bucket: Buffer) => boolean): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    let min = sks[0]!;
    let max = min;
    for (const sk of sks) {
      if (Buffer.compare(sk, min) < 0) min = sk;
      else if (Buffer.compare(sk, max) > 0) max = sk;
    }
    return this.lock.runMany(sks.map(KeyLock.id), async () => {
      // the keys are held: nothing else can write them before the batch below is issued
      const absent = this.absentAfter !== undefined && Buffer.compare(min, this.absentAfter) > 0;
      const stored = absent ? undefined : await this.backend.getMany(sks);
      const ops: BatchOp[] = new Array<BatchOp>(items.length);
      for (let i = 0; i < items.length; i++) {
        const { bkey, raw } = items[i]!;
        const local = stored?.[i];
        // decoded even when nothing merges with it: a replica that does not decode is refused, not stored
        const incoming = items[i]!.obj ?? decodeObject(raw!);
        const obj = mergedReplica(local ? decodeObject(local) : undefined, incoming, lww(bkey.bucket));
        ops[i] = { type: 'put', key: sks[i]!, value: obj === incoming && raw !== undefined ? raw : encodeObject(obj) };
      }
      this.wrote();
      // With the keys above some point known absent, a fold-ordered stream of batches (a handoff
      // into an empty vnode) needs no reads at all: after this batch the same holds above its last key.
      if (absent) this.absentAfter = max;
      await this.backend.batch(ops, { bulk: true });
    });
  }

  /**
   * Applies `update` to the stored object of `sk` and stores the result, with
   * no other update of the key in between. On a synchronous backend with no
   * cycle of the key in progress that is one synchronous step. Otherwise the
   * updates queue per key: every update that arrived while a cycle ran forms
   * the next cycle, which reads once, applies them in arrival order and writes
   * once (a hot key costs one read and one write per cycle, not per update).
   * Each caller gets the object its own update produced, once the cycle's
   * write is done; any sequential run of the same updates could have produced
   * the same results, and the intermediate objects were never readable.
   */
  private update(b: BKey, update: Update): Promise<RkvObject> {
    let sk: Buffer | undefined;
    let id = '';
    try {
      // With nothing queued or locked anywhere in the vnode the key's Buffer and id are not even needed.
      const idle = this.waiting.size === 0 && this.lock.size === 0;
      if (!idle) id = KeyLock.id((sk = this.storageKey(b)));
      const queue = idle ? undefined : this.waiting.get(id);
      if (queue !== undefined) return new Promise((resolve, reject) => queue.push({ update, resolve, reject }));
      if (this.sync !== undefined && (idle || !this.lock.held(id))) {
        const current = this.sync.peek(this.keyString(b)) ?? null;
        return Promise.resolve(this.storeNow(b, current, update(current ? decodedMemo(current) : undefined)).obj);
      }
      // RocksDB with the key's latest state at hand: no read, no lock; the backend orders what follows after this write
      const latest = idle ? this.backend.peekLatest?.(this.keyString(b)) : undefined;
      if (latest !== undefined) {
        const w = this.storeNow(b, latest, update(latest ? decodedMemo(latest) : undefined));
        return w.durable!.then(() => w.obj);
      }
      sk ??= this.storageKey(b);
      if (idle) id = KeyLock.id(sk);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    const key = sk;
    const batch: QueuedUpdate[] = [];
    this.waiting.set(id, batch);
    const mine = new Promise<RkvObject>((resolve, reject) => batch.push({ update, resolve, reject }));
    void this.lock.runId(id, () => {
      // From here on new updates of the key form the next cycle.
      if (this.waiting.get(id) === batch) this.waiting.delete(id);
      return this.cycle(key, batch);
    });
    return mine;
  }

  /** One read, the updates in order, one write; never rejects (each update's caller hears its own outcome). */
  private async cycle(sk: Buffer, batch: QueuedUpdate[]): Promise<void> {
    const results: (RkvObject | Error)[] = [];
    try {
      const raw = await this.backend.get(sk);
      let obj = raw ? decodeObject(raw) : undefined;
      let changed = false;
      for (const q of batch) {
        try {
          obj = q.update(obj);
          changed = true;
          results.push(obj);
        } catch (err) {
          // a refused update (e.g. too many siblings) leaves the object to the next one
          results.push(toError(err));
        }
      }
      if (changed) {
        this.wrote();
        await this.backend.put(sk, encodeObject(obj!));
      }
    } catch (err) {
      // the read or the write failed: no update of the cycle took effect
      for (let i = 0; i < batch.length; i++) if (!(results[i] instanceof Error)) results[i] = toError(err);
    }
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      if (r instanceof Error) batch[i]!.reject(r);
      else batch[i]!.resolve(r);
    }
  }

  /**
   * Deletes a tombstone for good, but only the exact tombstone the reaper saw
   * on every primary: a newer write or a different history keeps it.
   */
  async reap(b: BKey, clock: VClock): Promise<boolean> {
    const sk = this.storageKey(b);
    return this.lock.run(sk, async () => {
      const raw = await this.backend.get(sk);
      if (!raw) return true;
      const obj = decodeObject(raw);
      if (!obj.siblings.every((s) => s.deleted) || !clocksEqual(obj.clock, clock)) return false;
      await this.backend.del(sk);
      return true;
    });
  }

  /** Visits this vnode's objects whose key hash lies in [fromHash, toHash), in hash order. */
  async foldObjects(visit: ObjectVisitor, fromHash = 0, toHash = 2 ** 32, limit?: number): Promise<number> {
    const range = vnodeRange(this.ringLog2, this.partition, fromHash, toHash);
    return this.backend.fold(
      range,
      (k, v) => {
        const sk = decodeStorageKey(k);
        return visit({ bucket: sk.bucket, key: sk.key, hash32: sk.hash32 }, decodeObject(v));
      },
      limit === undefined ? {} : { limit },
    );
  }

  /**
   * One handoff batch: raw entries after `after` (a storage key, exclusive),
   * bounded by count and bytes like Riak's handoff batches.
   */
  async foldBatch(after: Buffer | undefined, maxItems: number, maxBytes: number, fromHash = 0, toHash = 2 ** 32): Promise<{ items: { key: Buffer; bkey: BKey; value: Buffer }[]; last: Buffer | undefined; done: boolean }> {
    const whole = vnodeRange(this.ringLog2, this.partition, fromHash, toHash);
    const gte = after ? Buffer.concat([after, ZERO]) : whole.gte;
    const items: { key: Buffer; bkey: BKey; value: Buffer }[] = [];
    let bytes = 0;
    let last: Buffer | undefined;
    let full = false;
    await this.backend.fold({ gte, lt: whole.lt }, (k, v) => {
      if (items.length >= maxItems || bytes >= maxBytes) {
        full = true;
        return false;
      }
      const sk = decodeStorageKey(k);
      items.push({ key: k, bkey: { bucket: sk.bucket, key: sk.key, hash32: sk.hash32 }, value: v });
      bytes += k.length + v.length;
      last = k;
      return true;
    });
    return { items, last, done: !full };
  }

  /** Number of entries, for vnode status. */
  async countEntries(): Promise<number> {
    return this.backend.fold(vnodeRange(this.ringLog2, this.partition), () => true, { keysOnly: true });
  }

  async isEmpty(): Promise<boolean> {
    if (this.absentAfter === NOTHING_STORED) return true;
    const seq = this.writes;
    const empty = await this.backend.isEmpty(vnodeRange(this.ringLog2, this.partition));
    if (empty && seq === this.writes) this.absentAfter = NOTHING_STORED;
    return empty;
  }

  /**
   * Deletes every key of the vnode. The actor moves to a new generation
   * before (a write coordinated while the range goes may find its key
   * already gone) and after (such a write may be gone too): the next counter
   * of a key comes from what the vnode stores, so an actor whose data is lost
   * would issue dots other replicas have already seen.
   */
  async drop(): Promise<void> {
    const seq = this.writes;
    this.nextGeneration();
    try {
      await this.backend.dropRange(vnodeRange(this.ringLog2, this.partition));
    } finally {
      this.nextGeneration();
    }
    if (seq === this.writes) this.absentAfter = NOTHING_STORED;
  }

  /**
   * A write this vnode coordinates on the stored `local` (with `context`
   * undefined it supersedes all of it), last-write-wins resolved when asked,
   * its dot counter noted as issued.
   */
  private coordinated(local: RkvObject | undefined, content: Content, context: VClock | undefined, lww: boolean): RkvObject {
    const obj = applyWrite(local, context ?? local?.clock ?? {}, content, this.actor, this.issued);
    this.issued = obj.clock[this.actor]!;
    return lww ? resolveLastWriteWins(obj) : obj;
  }

  /** Where the actor stands (what a clean shutdown keeps for the next start): its generation and last dot counter. */
  get actorState(): { generation: number; issued: number } {
    return { generation: this.generation, issued: this.issued };
  }

  private nextGeneration(): void {
    this.actor = this.actors.actorOf(++this.generation);
  }

  private wrote(): void {
    this.writes++;
    this.absentAfter = undefined;
  }
}

/** What a replica stores when `incoming` arrives: the merge the bucket asks for, one value if it resolves by last write. */
function mergedReplica(local: RkvObject | undefined, incoming: RkvObject, lww: boolean): RkvObject {
  if (local) return mergeReplicas(local, incoming, lww);
  return lww ? resolveLastWriteWins(incoming) : incoming;
}

/**
 * The replicas of one write usually store the very same object (a merge with
 * an older replica returns the incoming one), so the last encoding is reused:
 * one encoding per write instead of one per replica. Stored values are never
 * modified, so they can share it.
 */
let lastEncoded: { obj: RkvObject; raw: Buffer } | undefined;

function encodedOnce(obj: RkvObject): Buffer {
  if (lastEncoded?.obj === obj) return lastEncoded.raw;
  const raw = encodeObject(obj);
  lastEncoded = { obj, raw };
  return raw;
}

const encodeMemo = (memo: unknown): Buffer => encodeObject(memo as RkvObject);

/** About the bytes encodeObject gives, without encoding (the memory backend's approximateSize). */
function encodedSizeHint(obj: RkvObject): number {
  let n = 8;
  for (const actor in obj.clock) n += actor.length + 10;
  for (const s of obj.siblings) n += s.value.length + s.contentType.length + s.dot[0].length + 32;
  return n;
}

/** The decoded object of a stored value, decoded once per stored value. */
function decodedMemo(entry: MemoEntry): RkvObject {
  return (entry.memo as RkvObject | undefined) ?? (entry.memo = decodeObject(entry.value));
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
