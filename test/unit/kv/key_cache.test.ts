import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash32Of, hashBucketKey } from '../../../node/src/ring/chash.js';
import { KEY_CACHE_MAX_BYTES, KEY_CACHE_SLOTS, KeyCache } from '../../../node/src/kv/key_cache.js';

const sha = (bucket: Buffer, key: Buffer): number => hash32Of(hashBucketKey(bucket, key));

describe('KeyCache', () => {
  it('gives every key its own bytes and hash, through repeats and slot collisions', () => {
    const cache = new KeyCache();
    const bucket = Buffer.from('default');
    // more keys than slots: entries are evicted and colliding keys share slots
    const keys = Array.from({ length: 3 * KEY_CACHE_SLOTS }, (_, i) => Buffer.from(`key:${i % (2 * KEY_CACHE_SLOTS)}`));
    for (let round = 0; round < 2; round++) {
      for (const key of keys) {
        const b = cache.get(bucket, key);
        assert.equal(b.hash32, sha(bucket, key));
        assert.deepEqual(b.key, key);
        assert.deepEqual(b.bucket, bucket);
      }
    }
  });

  it('answers a repeated key with the same BKey, whose bytes the caller cannot change', () => {
    const cache = new KeyCache();
    const bucket = Buffer.from('b');
    const key = Buffer.from('mutable');
    const first = cache.get(bucket, key);
    assert.equal(cache.get(Buffer.from('b'), Buffer.from('mutable')), first);
    // the request's buffer is reused for another key: the cached entry keeps its own copy
    key[0] = 0x4d;
    assert.deepEqual(first.key, Buffer.from('mutable'));
    const second = cache.get(bucket, key);
    assert.notEqual(second, first);
    assert.equal(second.hash32, sha(bucket, Buffer.from('Mutable')));
  });

  it('does not keep keys longer than its limit (a client with 64 KiB keys cannot fill memory through it)', () => {
    const cache = new KeyCache();
    const bucket = Buffer.from('b');
    const long = Buffer.alloc(KEY_CACHE_MAX_BYTES, 'x');
    const a = cache.get(bucket, long);
    assert.equal(a.hash32, sha(bucket, long));
    // not kept: a second request gets its own BKey, on its own buffer
    assert.notEqual(cache.get(bucket, long), a);
    assert.equal(a.key, long);
    const short = Buffer.alloc(KEY_CACHE_MAX_BYTES - 1, 'x');
    assert.equal(cache.get(bucket, short), cache.get(bucket, short));
  });

  it('keeps bucket and key apart: ("a", "bc") is not ("ab", "c")', () => {
    const cache = new KeyCache();
    const x = cache.get(Buffer.from('a'), Buffer.from('bc'));
    const y = cache.get(Buffer.from('ab'), Buffer.from('c'));
    assert.notEqual(x, y);
    assert.equal(y.hash32, sha(Buffer.from('ab'), Buffer.from('c')));
    assert.deepEqual(cache.get(Buffer.from('a'), Buffer.from('bc')).bucket, Buffer.from('a'));
  });
});
