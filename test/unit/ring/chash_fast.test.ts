import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hash32Of, hashBucketKey, keyHash32 } from '../../../node/src/ring/chash.js';

describe('keyHash32 (JavaScript SHA-1)', () => {
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

  it('hashes 64 KiB keys (the native path)', () => {
    const key = Buffer.alloc(65536, 7);
    assert.equal(keyHash32(Buffer.from('b'), key), hash32Of(hashBucketKey(Buffer.from('b'), key)));
  });
});
