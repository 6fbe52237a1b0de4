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

export function keyHash32(bucket: Buffer, key: Buffer): number {
  return hash32Of(hashBucketKey(bucket, key));
}

/** The partition whose arc contains the hash. */
export function partitionOfHash(hash32: number, ringSize: number): number {
  return Math.floor(hash32 / 2 ** (32 - log2RingSize(ringSize)));
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
