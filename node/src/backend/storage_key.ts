import { Buffer } from 'node:buffer';
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
  writeStorageKey(out, k.ringLog2, k.partition, k.hash32, k.bucket, k.key);
  return out;
}

/** The layout above, written at the start of `out` (long enough); returns its length. */
function writeStorageKey(out: Buffer, ringLog2: number, partition: number, hash32: number, bucket: Buffer, key: Buffer): number {
  if (!(ringLog2 >= 0 && ringLog2 <= 0xff && Number.isInteger(ringLog2))) throw new RangeError(`ring size log2 ${ringLog2} out of range`);
  if (!(partition >= 0 && partition <= 0xffff && Number.isInteger(partition))) throw new RangeError(`partition ${partition} out of range`);
  if (!(hash32 >= 0 && hash32 <= 0xffffffff && Number.isInteger(hash32))) throw new RangeError(`hash ${hash32} out of range`);
  const bl = bucket.length;
  if (bl > 0xffff) throw new RangeError(`bucket of ${bl} bytes is longer than 65535`);
  out[0] = ringLog2;
  out[1] = partition >>> 8;
  out[2] = partition & 0xff;
  out[3] = hash32 >>> 24;
  out[4] = (hash32 >>> 16) & 0xff;
  out[5] = (hash32 >>> 8) & 0xff;
  out[6] = hash32 & 0xff;
  out[7] = bl >>> 8;
  out[8] = bl & 0xff;
  out.set(bucket, STORAGE_KEY_HEADER);
  out.set(key, STORAGE_KEY_HEADER + bl);
  return STORAGE_KEY_HEADER + bl + key.length;
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
 * buf[0, n) as a latin1 string. Buffer's latin1Slice (what toString('latin1')
 * ends in, minus its encoding lookup and argument checks) where the runtime
 * has it, as every Node release so far does.
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (start: number, end: number) => string }).latin1Slice;
const latin1: (buf: Buffer, n: number) => string =
  typeof latin1Slice === 'function' ? (buf, n) => latin1Slice.call(buf, 0, n) : (buf, n) => buf.toString('latin1', 0, n);

/** Where storageKeyString lays keys out before reading them as a string; grown for longer keys. */
let scratch = Buffer.allocUnsafe(1024);

/**
 * encodeStorageKey's bytes as a latin1 string (one char a byte): the key of
 * the backends' in-memory maps, so a lookup needs no Buffer. Made with one
 * native call from a reused buffer, so the string is flat (a concatenation
 * would be flattened again by every map lookup that hashes it).
 */
export function storageKeyString(ringLog2: number, partition: number, hash32: number, bucket: Buffer, key: Buffer): string {
  const n = STORAGE_KEY_HEADER + bucket.length + key.length;
  if (n > scratch.length) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  return latin1(scratch, writeStorageKey(scratch, ringLog2, partition, hash32, bucket, key));
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
