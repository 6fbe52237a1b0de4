import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hashBucketKey, hash32Of, isValidRingSize, partitionEnd, partitionOfHash, partitionStart, partitionsReplicatedBy, replicaPartitions, partitionId, keyHash32 } from '../../../node/src/ring/chash.js';
import { decodeStorageKey, encodeStorageKey, vnodeRange } from '../../../node/src/backend/storage_key.js';

const sizes = [8, 16, 32, 64, 128, 256, 512, 1024];

describe('chash', () => {
  it('accepts only powers of two from 8 to 1024', () => {
    for (const s of sizes) assert.equal(isValidRingSize(s), true);
    for (const s of [0, 4, 7, 100, 2048, 64.5, -64]) assert.equal(isValidRingSize(s), false);
  });

  it('hashes bucket and key with SHA-1 and separates bucket from key', () => {
    assert.equal(hashBucketKey(Buffer.from('b'), Buffer.from('k')).length, 20);
    assert.notEqual(keyHash32(Buffer.from('a'), Buffer.from('bc')), keyHash32(Buffer.from('ab'), Buffer.from('c')));
  });

  it('every hash falls in exactly the arc of its partition', () => {
    fc.assert(
      fc.property(fc.constantFrom(...sizes), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (size, h) => {
        const p = partitionOfHash(h, size);
        return p >= 0 && p < size && partitionStart(p, size) <= h && h < partitionEnd(p, size);
      }),
    );
  });

  it('doubling the ring splits each partition in two (resize is a pure split)', () => {
    fc.assert(fc.property(fc.constantFrom(...sizes.slice(0, -1)), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (size, h) => Math.floor(partitionOfHash(h, size * 2) / 2) === partitionOfHash(h, size)));
  });

  it('spreads keys evenly over partitions', () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[partitionOfHash(hash32Of(hashBucketKey(Buffer.from('b'), Buffer.from(`k${i}`))), 64)]!++;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `partition count ${c} far from 1000`);
  });

  it('replica partitions are the next n clockwise, and their inverse agrees', () => {
    assert.deepEqual(replicaPartitions(62, 64, 3), [62, 63, 0]);
    assert.deepEqual(partitionsReplicatedBy(1, 64, 3), [1, 0, 63]);
    for (let p = 0; p < 16; p++) for (const q of replicaPartitions(p, 16, 3)) assert.ok(partitionsReplicatedBy(q, 16, 3).includes(p));
  });

  it('partition ids are riak-style points on the 160-bit circle', () => {
    assert.equal(partitionId(0, 64), '0');
    assert.equal(partitionId(1, 64), (2n ** 160n / 64n).toString());
  });
});

describe('storage keys', () => {
  it('round-trip and sort by vnode, then hash', () => {
    fc.assert(
      fc.property(fc.nat(1023), fc.nat(2 ** 32 - 1), fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 20 }), (p, h, b, k) => {
        const sk = { ringLog2: 10, partition: p, hash32: h, bucket: Buffer.from(b), key: Buffer.from(k) };
        const back = decodeStorageKey(encodeStorageKey(sk));
        const range = vnodeRange(10, p);
        const enc = encodeStorageKey(sk);
        return back.partition === p && back.hash32 === h && back.bucket.equals(sk.bucket) && back.key.equals(sk.key) && Buffer.compare(range.gte, enc) <= 0 && Buffer.compare(enc, range.lt) < 0;
      }),
    );
  });

  it('a hash sub-range of a vnode contains exactly the keys with those hashes', () => {
    const r = vnodeRange(6, 3, 1000, 2000);
    const at = (h: number) => encodeStorageKey({ ringLog2: 6, partition: 3, hash32: h, bucket: Buffer.from('b'), key: Buffer.from('k') });
    const inside = (h: number) => Buffer.compare(r.gte, at(h)) <= 0 && Buffer.compare(at(h), r.lt) < 0;
    assert.equal(inside(999), false);
    assert.equal(inside(1000), true);
    assert.equal(inside(1999), true);
    assert.equal(inside(2000), false);
  });
});
