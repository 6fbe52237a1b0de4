import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeStorageKey, storageKeyString } from '../../../node/src/backend/storage_key.js';

describe('storage key strings', () => {
  it('is exactly the latin1 form of the encoded storage key, for any bytes and lengths', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 10 }),
        fc.integer({ min: 0, max: 1023 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        // past the reused buffer's first size too
        fc.uint8Array({ maxLength: 3000 }),
        (ringLog2, p, hash32, bucket, key) => {
          const partition = p % 2 ** ringLog2;
          const b = Buffer.from(bucket);
          const k = Buffer.from(key);
          const bytes = encodeStorageKey({ ringLog2, partition, hash32, bucket: b, key: k });
          assert.equal(storageKeyString(ringLog2, partition, hash32, b, k), bytes.toString('latin1'));
        },
      ),
      { seed: 20261205, numRuns: 500 },
    );
  });

  it('refuses what the byte encoding cannot hold', () => {
    assert.throws(() => storageKeyString(10, 70000, 1, Buffer.from('b'), Buffer.from('k')), /partition 70000 out of range/);
    assert.throws(() => storageKeyString(10, 1, 1, Buffer.alloc(70000), Buffer.alloc(1)), /longer than 65535/);
  });
});
