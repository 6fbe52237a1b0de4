import { Buffer } from 'node:buffer';
import type { Backend, BatchOp, BatchOptions, FoldOptions, FoldVisitor, KeyRange } from './backend.js';

const EMPTY = Buffer.alloc(0);
/** Chunk size bound: inserts shift at most this many slots instead of the whole key list. */
const MAX_CHUNK = 512;
/** A big in-memory fold hands the event loop back this often so it cannot stall a node. */
const YIELD_EVERY = 4096;

/** Index of the first element of `arr` that is >= key (arr.length if none). */
function lowerBound(arr: string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Keys in bytewise order as a list of bounded sorted chunks, so inserting or
 * removing a key costs O(log n + MAX_CHUNK) rather than shifting one huge array.
 * Keys are latin1 strings (a char a byte), whose order is the bytes' order:
 * compared in JavaScript, with no call into a native Buffer.compare per step.
 */
class SortedKeys {
  private chunks: string[][] = [];

  /** The first chunk whose last key is >= key, or the last chunk. */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk[chunk.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The caller guarantees the key is not present yet. */
  insert(key: string): void {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      return;
    }
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci]!;
    chunk.splice(lowerBound(chunk, key), 0, key);
    if (chunk.length > MAX_CHUNK) {
      const half = chunk.length >>> 1;
      this.chunks.splice(ci, 1, chunk.slice(0, half), chunk.slice(half));
    }
  }

  remove(key: string): void {
    if (this.chunks.length === 0) return;
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci]!;
    const i = lowerBound(chunk, key);
    if (i < chunk.length && chunk[i] === key) {
      chunk.splice(i, 1);
      if (chunk.length === 0) this.chunks.splice(ci, 1);
    }
  }

  /** Keys k with gte <= k < lt, in order, at most `limit` of them. */
  range(gte: string, lt: string, limit: number): string[] {
    const out: string[] = [];
    if (this.chunks.length === 0 || limit <= 0) return out;
    let ci = this.chunkFor(gte);
    let i = lowerBound(this.chunks[ci]!, gte);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const chunk = this.chunks[ci]!;
      for (; i < chunk.length; i++) {
        if (chunk[i]! >= lt) return out;
        out.push(chunk[i]!);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
  }
}

function checkKey(key: unknown): asserts key is Buffer {
  if (!Buffer.isBuffer(key) || key.length === 0) throw new TypeError('backend key must be a non-empty Buffer');
}

/** A key's bytes as the latin1 string (a char a byte) the map and the order keep. */
function latin1(key: Buffer): string {
  return key.toString('latin1');
}

function emptyRange(range: KeyRange): boolean {
  return Buffer.compare(range.gte, range.lt) >= 0;
}

/** A stored value and a memo its owner attached to it (reset whenever the value changes). */
export interface MemoEntry {
  readonly value: Buffer;
  memo: unknown;
}

/** Encodes a memo into the bytes it stands for. */
export type MemoEncoder = (memo: unknown) => Buffer;

/**
 * Point access without promises, for a backend whose data lives in this
 * process: the vnode runs a whole read-modify-write in one synchronous step
 * with it (atomic, so no per-key lock) and keeps its decoded object as the
 * memo of the stored bytes, so reads of an unchanged value skip decoding.
 */
export interface SyncPointAccess {
  /** The entry of a key (its bytes as a latin1 string), or undefined; its value must not be modified. */
  peek(key: string): MemoEntry | undefined;
  /**
   * Stores a value given as its memo: the bytes are `encode(memo)`, made only
   * when something asks for them (a fold, a handoff, a get() of bytes), as a
   * value rewritten before that is never encoded at all. `size` estimates the
   * bytes for approximateSize. The memo must never be modified.
   */
  putMemo(key: string, memo: unknown, encode: MemoEncoder, size: number): void;
  /** putMemo for a key whose entry peek() returned in this same turn: no second lookup. */
  replaceMemo(entry: MemoEntry, memo: unknown, encode: MemoEncoder, size: number): void;
}

/** A stored value: its bytes, or the memo they are encoded from on first use. */
class Entry implements MemoEntry {
  constructor(
    /** latin1, as the map keys */
    readonly key: string,
    private raw: Buffer | undefined,
    public memo: unknown,
    private encode: MemoEncoder | undefined,
    /** bytes counted for approximateSize (an estimate until encoded) */
    public size: number,
  ) {}

  get value(): Buffer {
    return (this.raw ??= this.encode!(this.memo));
  }

  set(raw: Buffer | undefined, memo: unknown, encode: MemoEncoder | undefined, size: number): void {
    this.raw = raw;
    this.memo = memo;
    this.encode = encode;
    this.size = size;
  }
}

/** The backend's synchronous point access, when it has one. */
export function syncPointAccess(backend: Backend): SyncPointAccess | undefined {
  return backend instanceof MemoryBackend ? backend : undefined;
}

/**
 * A volatile backend for tests and `--backend memory`. Every mutation is applied
 * synchronously when it is called, so operations take effect in issue order,
 * the same guarantee the RocksDB backend gives.
 */
export class MemoryBackend implements Backend, SyncPointAccess {
  readonly name = 'memory' as const;
  /** latin1 maps each byte to one UTF-16 unit, so the string is a lossless Map key. */
  private readonly values = new Map<string, Entry>();
  private readonly order = new SortedKeys();
  private bytes = 0;
  private closed = false;

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.checkOpen();
    checkKey(key);
    return this.values.get(key.toString('latin1'))?.value;
  }

  async getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    this.checkOpen();
    return keys.map((key) => {
      checkKey(key);
      return this.values.get(key.toString('latin1'))?.value;
    });
  }

  peek(key: string): MemoEntry | undefined {
    this.checkOpen();
    return this.values.get(key);
  }

  putMemo(key: string, memo: unknown, encode: MemoEncoder, size: number): void {
    this.checkOpen();
    if (key.length === 0) throw new TypeError('backend key must be non-empty');
    this.store(key, undefined, memo, encode, size);
  }

  replaceMemo(entry: MemoEntry, memo: unknown, encode: MemoEncoder, size: number): void {
    this.checkOpen();
    this.replace(entry as Entry, undefined, memo, encode, size);
  }

  async put(key: Buffer, value: Buffer): Promise<void> {
    this.checkOpen();
    this.apply([{ type: 'put', key, value }]);
  }

  async del(key: Buffer): Promise<void> {
    this.checkOpen();
    this.apply([{ type: 'del', key }]);
  }

  async batch(ops: BatchOp[], _opts?: BatchOptions): Promise<void> {
    this.checkOpen();
    this.apply(ops);
  }

  async fold(range: KeyRange, visit: FoldVisitor, opts: FoldOptions = {}): Promise<number> {
    this.checkOpen();
    const limit = opts.limit ?? Infinity;
    if (emptyRange(range) || limit <= 0) return 0;
    // Entries are captured up front: like a RocksDB iterator, the fold sees the
    // range as it was when it started, whatever the visitor or others write meanwhile.
    const snapshot = this.order.range(latin1(range.gte), latin1(range.lt), limit).map((k) => {
      const entry = this.values.get(k);
      return [Buffer.from(k, 'latin1'), opts.keysOnly ? EMPTY : entry!.value] as const;
    });
    let count = 0;
    for (const [key, value] of snapshot) {
      if (count > 0 && count % YIELD_EVERY === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.checkOpen();
      }
      count++;
      if (visit(key, value) === false) break;
    }
    return count;
  }

  async isEmpty(range: KeyRange): Promise<boolean> {
    this.checkOpen();
    return emptyRange(range) || this.order.range(latin1(range.gte), latin1(range.lt), 1).length === 0;
  }

  async dropRange(range: KeyRange): Promise<void> {
    this.checkOpen();
    if (emptyRange(range)) return;
    for (const k of this.order.range(latin1(range.gte), latin1(range.lt), Infinity)) this.delete(k);
  }

  async approximateSize(): Promise<number> {
    this.checkOpen();
    return this.bytes;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.values.clear();
    this.order.clear();
    this.bytes = 0;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('memory backend is closed');
  }

  /** Validates the whole batch before touching anything so a bad op leaves no partial batch. */
  private apply(ops: BatchOp[]): void {
    for (const op of ops) {
      checkKey(op.key);
      if (op.type === 'put' && !Buffer.isBuffer(op.value)) throw new TypeError('backend value must be a Buffer');
    }
    for (const op of ops) {
      // Values are copied, because callers may reuse their buffers once put() returns.
      if (op.type === 'put') this.store(latin1(op.key), Buffer.from(op.value), undefined, undefined, op.value.length);
      else this.delete(latin1(op.key));
    }
  }

  /** `k`: the key's bytes as a latin1 string (a copy, whatever the caller does with its buffer). */
  private store(k: string, raw: Buffer | undefined, memo: unknown, encode: MemoEncoder | undefined, size: number): void {
    const entry = this.values.get(k);
    if (entry) {
      this.replace(entry, raw, memo, encode, size);
      return;
    }
    this.values.set(k, new Entry(k, raw, memo, encode, size));
    this.order.insert(k);
    this.bytes += k.length + size;
  }

  private replace(entry: Entry, raw: Buffer | undefined, memo: unknown, encode: MemoEncoder | undefined, size: number): void {
    this.bytes += size - entry.size;
    entry.set(raw, memo, encode, size);
  }

  private delete(k: string): void {
    const entry = this.values.get(k);
    if (!entry) return;
    this.values.delete(k);
    this.order.remove(entry.key);
    this.bytes -= entry.key.length + entry.size;
  }
}
