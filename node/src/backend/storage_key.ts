import type { KeyRange } from './backend.js';

/**
 * Layout of a key in the node's single backend keyspace:
 *
 *   [u8 log2(ringSize)] [u16 vnode partition] [u32 hash32] [u16 bucket length] [bucket] [key]
 *
 * Leading with the vnode's partition keeps each vnode's data in one contiguous
 * range (fold, hand off or drop it as a range). The ring-size byte keeps the
 * vnodes of an old and a new ring apart while a resize runs. Inside a vnode,
 * entries are ordered by the key's hash, so the keys of any key-space partition
 * (for a coverage filter, a repair or a resize split) are again one sub-range.
 */
export interface StorageKey {
  ringLog2: number;
  partition: number;
  hash32: number;
  bucket: Buffer;
  key: Buffer;
}

export const STORAGE_KEY_HEADER = 9;

export function encodeStorageKey(k: StorageKey): Buffer {
  const out = Buffer.allocUnsafe(STORAGE_KEY_HEADER + k.bucket.length + k.key.length);
  out.writeUInt8(k.ringLog2, 0);
  out.writeUInt16BE(k.partition, 1);
  out.writeUInt32BE(k.hash32, 3);
  out.writeUInt16BE(k.bucket.length, 7);
  k.bucket.copy(out, STORAGE_KEY_HEADER);
  k.key.copy(out, STORAGE_KEY_HEADER + k.bucket.length);
  return out;
}

export function decodeStorageKey(buf: Buffer): StorageKey {
  if (buf.length < STORAGE_KEY_HEADER) throw new Error(`storage key too short (${buf.length} bytes)`);
  const bucketLen = buf.readUInt16BE(7);
  if (buf.length < STORAGE_KEY_HEADER + bucketLen) throw new Error('storage key truncated');
  return {
    ringLog2: buf.readUInt8(0),
    partition: buf.readUInt16BE(1),
    hash32: buf.readUInt32BE(3),
    bucket: buf.subarray(STORAGE_KEY_HEADER, STORAGE_KEY_HEADER + bucketLen),
    key: buf.subarray(STORAGE_KEY_HEADER + bucketLen),
  };
}

/**
 * encodeStorageKey's bytes as a latin1 string (one char a byte), in two parts:
 * the vnode's prefix, and the tail every replica of a key shares. Backends key
 * their in-memory maps by this string, so a replica lookup needs no Buffer.
 */
export function vnodePrefixString(ringLog2: number, partition: number): string {
  if (partition < 0 || partition > 0xffff || !Number.isInteger(partition)) throw new RangeError(`partition ${partition} out of range`);
  return String.fromCharCode(ringLog2, partition >>> 8, partition & 0xff);
}

export function storageKeyTail(hash32: number, bucket: Buffer, key: Buffer): string {
  if (bucket.length > 0xffff) throw new RangeError(`bucket of ${bucket.length} bytes is longer than 65535`);
  const n = bucket.length;
  return String.fromCharCode(hash32 >>> 24, (hash32 >>> 16) & 0xff, (hash32 >>> 8) & 0xff, hash32 & 0xff, n >>> 8, n & 0xff) + bucket.toString('latin1') + key.toString('latin1');
}

function prefix(ringLog2: number, partition: number, hash32: number): Buffer {
  const out = Buffer.allocUnsafe(7);
  out.writeUInt8(ringLog2, 0);
  out.writeUInt16BE(partition, 1);
  out.writeUInt32BE(hash32, 3);
  return out;
}

/**
 * Range of a vnode's entries whose hash32 lies in [fromHash, toHash), toHash up to 2^32.
 * With the defaults it is the whole vnode.
 */
export function vnodeRange(ringLog2: number, partition: number, fromHash = 0, toHash = 2 ** 32): KeyRange {
  const gte = prefix(ringLog2, partition, fromHash);
  const lt = toHash >= 2 ** 32 ? vnodeEnd(ringLog2, partition) : prefix(ringLog2, partition, toHash);
  return { gte, lt };
}

function vnodeEnd(ringLog2: number, partition: number): Buffer {
  const out = Buffer.alloc(3);
  if (partition === 0xffff) {
    out.writeUInt8(ringLog2 + 1, 0);
    out.writeUInt16BE(0, 1);
  } else {
    out.writeUInt8(ringLog2, 0);
    out.writeUInt16BE(partition + 1, 1);
  }
  return out;
}
