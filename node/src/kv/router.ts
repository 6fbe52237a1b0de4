import type { Content, RkvObject } from '../object/object.js';
import type { VClock } from '../object/vclock.js';
import type { BKey, WrittenNow } from '../vnode/vnode.js';
import type { MemoEntry } from '../backend/memory.js';
import type { Target } from './preflist.js';

/**
 * How coordinators reach a replica. The local implementation calls the vnode
 * directly; the cluster one sends a typed message over the transport.
 */
export interface VnodeRouter {
  get(t: Target, b: BKey): Promise<RkvObject | undefined>;
  coordinatePut(t: Target, b: BKey, content: Content, context: VClock | undefined, lww: boolean): Promise<RkvObject>;
  mergePut(t: Target, b: BKey, obj: RkvObject, lww: boolean): Promise<void>;
  /** removes the replica's tombstone if it is exactly `clock`; false when it is not */
  reap(t: Target, b: BKey, clock: VClock): Promise<boolean>;
  /**
   * The replica a target names when a request to it can run synchronously in
   * this turn (a local in-process vnode that nothing redirects or forwards
   * from); undefined when the request must take the asynchronous path.
   */
  immediate?(t: Target, write: boolean): ImmediateReplica | undefined;
}

/** A replica answering in the caller's turn (see Vnode.immediate). */
export interface ImmediateReplica {
  /** the stored object, null when there is none, undefined when that cannot be told in this turn */
  readNow(b: BKey): RkvObject | null | undefined;
  /** the key's current entry when the write methods below can run for it in this turn (null: absent), else undefined */
  writeReady(b: BKey): MemoEntry | null | undefined;
  /** the stored object, read asynchronously (which lets a RocksDB replica cache it) */
  get(b: BKey): Promise<RkvObject | undefined>;
  coordinatePutNow(b: BKey, current: MemoEntry | null, content: Content, context: VClock | undefined, lww: boolean): WrittenNow;
  mergePutNow(b: BKey, current: MemoEntry | null, obj: RkvObject, lww: boolean): WrittenNow;
}
