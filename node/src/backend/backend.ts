/**
 * The storage contract every vnode relies on, modelled on the riak_core vnode
 * callbacks: point reads and writes, ordered range folds (so a partition or a
 * slice of the hash space can be handed off, counted or dropped), and batches.
 * Keys are opaque byte strings ordered bytewise; see storage_key.ts for the layout.
 */
export interface KeyRange {
  /** inclusive lower bound */
  gte: Buffer;
  /** exclusive upper bound */
  lt: Buffer;
}

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** Return false to stop the fold early. */
export type FoldVisitor = (key: Buffer, value: Buffer) => boolean | void;

export interface BatchOptions {
  /**
   * Bulk data (a handoff batch): the caller gives its buffers away (they may
   * be views into a larger one and are never changed again), and the entries
   * are not worth keeping in a cache of hot rows.
   */
  bulk?: boolean;
}

export interface FoldOptions {
  /** stop after this many entries */
  limit?: number;
  /** skip values (key-only folds are cheaper on RocksDB) */
  keysOnly?: boolean;
}

export interface CachedEntry {
  readonly value: Buffer;
  /** whatever the reader derived from value (a decoded object), dropped when the value changes */
  memo: unknown;
}

export interface CompactionStats {
  /** compactions and flushes running now */
  running: number;
  /** bytes RocksDB estimates it still has to compact */
  pendingBytes: number;
}

export interface Backend {
  readonly name: 'memory' | 'rocksdb';
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Reads many keys in one call; result[i] belongs to keys[i]. */
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  put(key: Buffer, value: Buffer): Promise<void>;
  del(key: Buffer): Promise<void>;
  batch(ops: BatchOp[], opts?: BatchOptions): Promise<void>;
  /** Visits entries of the range in key order; resolves with the number visited. */
  fold(range: KeyRange, visit: FoldVisitor, opts?: FoldOptions): Promise<number>;
  isEmpty(range: KeyRange): Promise<boolean>;
  /** Deletes every key of the range. */
  dropRange(range: KeyRange): Promise<void>;
  /** Approximate bytes stored (keys + values). */
  approximateSize(): Promise<number>;
  /**
   * A point read answered from memory in this turn, when the backend can: the
   * entry (its memo slot free for the caller's decoded form), null when the key
   * is known absent, undefined when only an asynchronous read can tell. The key
   * is given as its bytes in a latin1 string (storage_key.ts), the form the
   * backend's in-memory maps use, so the caller builds no Buffer.
   */
  peekCached?(key: string): CachedEntry | null | undefined;
  /**
   * For a writer's read-modify-write in one turn: like peekCached, but a write
   * issued and not yet durable counts, as its value (later reads and writes
   * of the key are ordered after it, so building on it is what a read after
   * its completion would do). undefined when only an asynchronous read can tell.
   * Should that write fail, one built on it may still land: as anywhere in a
   * Dynamo store, a write reported failed may have taken effect.
   */
  peekLatest?(key: string): CachedEntry | null | undefined;
  /**
   * put() of a key given as its latin1 string (see peekCached), with the value
   * handed over (never modified again, so not copied) and the caller's memo of
   * it, kept for peekLatest and peekCached. Goes with peekLatest.
   */
  putLatest?(key: string, value: Buffer, memo: unknown): Promise<void>;
  /** Background compaction work (RocksDB); absent for backends that have none. */
  compactionStats?(): CompactionStats;
  close(): Promise<void>;
}
