import type { Backend } from '../backend/backend.js';
import { decodeStorageKey, encodeStorageKey, vnodeRange } from '../backend/storage_key.js';
import { decodeObject, encodeObject } from '../object/codec.js';
import { applyWrite, mergeObjects, resolveLastWriteWins, type Content, type RkvObject } from '../object/object.js';
import { clocksEqual, type VClock } from '../object/vclock.js';
import { KeyLock } from './key_lock.js';

const ZERO = Buffer.from([0]);

export interface BKey {
  bucket: Buffer;
  key: Buffer;
  hash32: number;
}

export interface ObjectVisitor {
  (bkey: BKey, object: RkvObject): boolean | void;
}

/**
 * One partition's replica store: the riak_kv_vnode of rkv. It owns the slice of
 * the node's backend whose keys start with its (ring size, partition) prefix and
 * is the only writer of that slice.
 */
export class Vnode {
  private readonly lock = new KeyLock();

  constructor(
    readonly partition: number,
    private readonly ringLog2: number,
    private readonly backend: Backend,
    /** DVV actor for writes this vnode coordinates: node incarnation + partition */
    readonly actor: string,
  ) {}

  private storageKey(b: BKey): Buffer {
    return encodeStorageKey({ ringLog2: this.ringLog2, partition: this.partition, hash32: b.hash32, bucket: b.bucket, key: b.key });
  }

  async get(b: BKey): Promise<RkvObject | undefined> {
    const raw = await this.backend.get(this.storageKey(b));
    return raw ? decodeObject(raw) : undefined;
  }

  /**
   * A write this vnode coordinates: advances its own DVV entry. With
   * `context` undefined the write supersedes whatever this replica holds.
   */
  async coordinatePut(b: BKey, content: Content, context: VClock | undefined, lww: boolean): Promise<RkvObject> {
    const sk = this.storageKey(b);
    return this.lock.run(sk, async () => {
      const raw = await this.backend.get(sk);
      const local = raw ? decodeObject(raw) : undefined;
      let obj = applyWrite(local, context ?? local?.clock ?? {}, content, this.actor);
      if (lww) obj = resolveLastWriteWins(obj);
      await this.backend.put(sk, encodeObject(obj));
      return obj;
    });
  }

  /** A replica write (from a coordinator, read repair or handoff): merged, never blindly overwritten. */
  async mergePut(b: BKey, incoming: RkvObject, lww: boolean): Promise<RkvObject> {
    const sk = this.storageKey(b);
    return this.lock.run(sk, async () => {
      const raw = await this.backend.get(sk);
      let obj = raw ? mergeObjects(decodeObject(raw), incoming) : incoming;
      if (lww) obj = resolveLastWriteWins(obj);
      await this.backend.put(sk, encodeObject(obj));
      return obj;
    });
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
      items.push({ key: k, bkey: { bucket: Buffer.from(sk.bucket), key: Buffer.from(sk.key), hash32: sk.hash32 }, value: v });
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
    return this.backend.isEmpty(vnodeRange(this.ringLog2, this.partition));
  }

  async drop(): Promise<void> {
    await this.backend.dropRange(vnodeRange(this.ringLog2, this.partition));
  }
}
