import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hash32Of, hashBucketKey, keyHash32 } from '../../../node/src/ring/chash.js';

describe('keyHash32 (JavaScript SHA-1 and its cache)', () => {
  it('equals the top 32 bits of the native SHA-1 digest for every input length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.uint8Array({ maxLength: 400 }), (b, k) => {
        const bucket = Buffer.from(b);
        const key = Buffer.from(k);
        return keyHash32(bucket, key) === hash32Of(hashBucketKey(bucket, key));
      }),
      { numRuns: 2000 },
    );
  });

  it('answers repeated and colliding keys from the cache with the right hash', () => {
    const bucket = Buffer.from('default');
    const keys = Array.from({ length: 5000 }, (_, i) => Buffer.from(`key:${i % 2500}`));
    for (let round = 0; round < 3; round++) {
      for (const key of keys) assert.equal(keyHash32(bucket, key), hash32Of(hashBucketKey(bucket, key)));
    }
    // a key and its reuse of the input buffer after a change must not share a cached hash
    const k = Buffer.from('mutable');
    const before = keyHash32(bucket, k);
    k[0] = 0x4d;
    assert.equal(keyHash32(bucket, k), hash32Of(hashBucketKey(bucket, k)));
    assert.notEqual(keyHash32(bucket, k), before);
  });

  it('hashes 64 KiB keys (the native path)', () => {
    const key = Buffer.alloc(65536, 7);
    assert.equal(keyHash32(Buffer.from('b'), key), hash32Of(hashBucketKey(Buffer.from('b'), key)));
  });
});
