import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

/**
 * Consistent hashing in the manner of riak_core's chash: a bucket/key pair is
 * hashed with SHA-1 onto a 160-bit circle that is cut into `ringSize` equal
 * partitions (ringSize a power of two). Partition i covers the arc
 * [i * 2^160 / ringSize, (i + 1) * 2^160 / ringSize). Unlike riak's chash we do
 * not shift a key to the successor partition: a key belongs to the partition
 * whose arc contains it, which makes ring resizes a pure split or merge of arcs.
 *
 * Because ringSize <= 1024, the top 32 bits of the hash decide the partition for
 * every legal ring size; `hash32` is therefore what the rest of the code keeps.
 */
export const MIN_RING_SIZE = 8;
export const MAX_RING_SIZE = 1024;

export function isValidRingSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_RING_SIZE && n <= MAX_RING_SIZE && (n & (n - 1)) === 0;
}

export function log2RingSize(ringSize: number): number {
  return 31 - Math.clz32(ringSize);
}

/** SHA-1 of the length-prefixed bucket followed by the key, so ("a","bc") != ("ab","c"). */
export function hashBucketKey(bucket: Buffer, key: Buffer): Buffer {
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(bucket.length, 0);
  return createHash('sha1').update(len).update(bucket).update(key).digest();
}

/** The top 32 bits of a SHA-1 digest as an unsigned integer. */
export function hash32Of(digest: Buffer): number {
  return digest.readUInt32BE(0);
}

/**
 * Inputs up to this many padded bytes (three SHA-1 blocks, keys up to ~170
 * bytes) are hashed in JavaScript: for them the native binding's per-call cost
 * (a Hash object, three updates, a digest buffer: ~1.1 us) is several times
 * the hashing itself (~0.25 us a block here). Longer keys go native.
 */
const JS_SHA1_MAX_PADDED = 192;
const shaWords = new Int32Array(80);
const shaInput = new Uint8Array(JS_SHA1_MAX_PADDED);

/** The top 32 bits of SHA-1(u32be(bucket.length) ++ bucket ++ key): hash32Of(hashBucketKey(bucket, key)). */
export function keyHash32(bucket: Buffer, key: Buffer): number {
  const len = 4 + bucket.length + key.length;
  const padded = (((len + 8) >>> 6) + 1) << 6;
  if (padded > JS_SHA1_MAX_PADDED) return hash32Of(hashBucketKey(bucket, key));
  const bl = bucket.length;
  const kl = key.length;
  const m = shaInput;
  m[0] = bl >>> 24;
  m[1] = (bl >>> 16) & 255;
  m[2] = (bl >>> 8) & 255;
  m[3] = bl & 255;
  let p = 4;
  for (let i = 0; i < bl; i++) m[p++] = bucket[i]!;
  for (let i = 0; i < kl; i++) m[p++] = key[i]!;
  m[p++] = 0x80;
  while (p < padded - 4) m[p++] = 0;
  // the message length in bits, big-endian; its high word is zero at these sizes
  const bits = len * 8;
  m[p++] = bits >>> 24;
  m[p++] = (bits >>> 16) & 255;
  m[p++] = (bits >>> 8) & 255;
  m[p] = bits & 255;
  return sha1Blocks(m, padded) >>> 0;
}

/** FIPS 180-4 SHA-1 over whole padded blocks; returns only h0, the digest's first word. */
function sha1Blocks(m: Uint8Array, length: number): number {
  const w = shaWords;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let off = 0; off < length; off += 64) {
    for (let i = 0; i < 16; i++) {
      const o = off + 4 * i;
      w[i] = (m[o]! << 24) | (m[o + 1]! << 16) | (m[o + 2]! << 8) | m[o + 3]!;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    // the four rounds of 20 steps, unrolled by round so no step branches
    for (let i = 0; i < 20; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 20; i < 40; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 40; i < 60; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 60; i < 80; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  return h0;
}

/** The partition whose arc contains the hash. */
export function partitionOfHash(hash32: number, ringSize: number): number {
  const bits = log2RingSize(ringSize);
  // a shift for an unsigned 32-bit hash (the division otherwise: shifts are mod 32 and on 32 bits)
  return bits !== 0 && hash32 >>> 0 === hash32 ? hash32 >>> (32 - bits) : Math.floor(hash32 / 2 ** (32 - bits));
}

/** First hash32 value (inclusive) of a partition's arc. */
export function partitionStart(partition: number, ringSize: number): number {
  return partition * 2 ** (32 - log2RingSize(ringSize));
}

/** Exclusive end of a partition's arc, as a number up to 2^32. */
export function partitionEnd(partition: number, ringSize: number): number {
  return (partition + 1) * 2 ** (32 - log2RingSize(ringSize));
}

/** Riak-style partition id: the arc's first point on the 160-bit circle, as a decimal string. */
export function partitionId(partition: number, ringSize: number): string {
  return ((2n ** 160n / BigInt(ringSize)) * BigInt(partition)).toString();
}

/**
 * The partitions that hold the replicas of keys hashing into `partition`:
 * the partition itself and the next n-1 clockwise (riak's preference list).
 */
export function replicaPartitions(partition: number, ringSize: number, n: number): number[] {
  const out: number[] = [];
  const count = Math.min(n, ringSize);
  for (let i = 0; i < count; i++) out.push((partition + i) % ringSize);
  return out;
}

/**
 * The key-space partitions whose replicas a vnode holds: the inverse of
 * replicaPartitions (the partition itself and the n-1 before it).
 */
export function partitionsReplicatedBy(partition: number, ringSize: number, n: number): number[] {
  const out: number[] = [];
  const count = Math.min(n, ringSize);
  for (let i = 0; i < count; i++) out.push((partition - i + ringSize) % ringSize);
  return out;
}
