import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash32Of, hashBucketKey } from '../../../node/src/ring/chash.js';
import { KEY_CACHE_MAX_BYTES, KEY_CACHE_SLOTS, KeyCache } from '../../../node/src/kv/key_cache.js';

const sha = (bucket: Buffer, key: Buffer): number => hash32Of(hashBucketKey(bucket, key));

describe('KeyCache', () => {
  it('gives every key its own hash, through repeats and slot collisions', () => {
    const cache = new KeyCache();
    const bucket = Buffer.from('default');
    // more keys than slots: entries are evicted and colliding keys share slots
    const keys = Array.from({ length: 3 * KEY_CACHE_SLOTS }, (_, i) => Buffer.from(`key:${i % (2 * KEY_CACHE_SLOTS)}`));
    const ownerOf = new Map<object, string>();
    for (let round = 0; round < 2; round++) {
      for (const key of keys) {
        const b = cache.get(bucket, key);
        assert.equal(b.hash32, sha(bucket, key));
        assert.equal(b.key, key);
        assert.equal(b.bucket, bucket);
        // no two keys ever share storage key strings
        if (b.strings === undefined) continue;
        const owner = ownerOf.get(b.strings);
        assert.ok(owner === undefined || owner === key.toString(), `${key.toString()} got the strings of ${owner}`);
        ownerOf.set(b.strings, key.toString());
      }
    }
  });

  it('shares a key’s hash and storage key strings between requests naming the same bytes, never its buffers', () => {
    const cache = new KeyCache();
    const bucket = Buffer.from('b');
    const key = Buffer.from('mutable');
    // a key named once gets none: they would outlive its request in the cache
    assert.equal(cache.get(bucket, key).strings, undefined);
    const first = cache.get(bucket, key);
    const again = cache.get(Buffer.from('b'), Buffer.from('mutable'));
    assert.ok(first.strings !== undefined);
    assert.equal(again.strings, first.strings);
    assert.equal(again.hash32, first.hash32);
    assert.notEqual(again.key, first.key);
    // the request's buffer is reused for another key: the cache compared its own copy
    key[0] = 0x4d;
    const changed = cache.get(bucket, key);
    assert.equal(changed.strings, undefined);
    assert.notEqual(cache.get(bucket, key).strings, first.strings);
    assert.equal(changed.hash32, sha(bucket, Buffer.from('Mutable')));
  });

  it('does not keep keys longer than its limit (a client with 64 KiB keys cannot fill memory through it)', () => {
    const cache = new KeyCache();
    const bucket = Buffer.from('b');
    const long = Buffer.alloc(KEY_CACHE_MAX_BYTES, 'x');
    const a = cache.get(bucket, long);
    assert.equal(a.hash32, sha(bucket, long));
    assert.equal(a.strings, undefined);
    assert.equal(cache.get(bucket, long).strings, undefined);
    const short = Buffer.alloc(KEY_CACHE_MAX_BYTES - 1, 'x');
    cache.get(bucket, short);
    assert.ok(cache.get(bucket, short).strings !== undefined);
    assert.equal(cache.get(bucket, short).strings, cache.get(bucket, short).strings);
  });

  it('keeps bucket and key apart: ("a", "bc") is not ("ab", "c")', () => {
    const cache = new KeyCache();
    cache.get(Buffer.from('a'), Buffer.from('bc'));
    cache.get(Buffer.from('ab'), Buffer.from('c'));
    const x = cache.get(Buffer.from('a'), Buffer.from('bc'));
    const y = cache.get(Buffer.from('ab'), Buffer.from('c'));
    assert.ok(x.strings !== undefined && y.strings !== undefined);
    assert.notEqual(x.strings, y.strings);
    assert.equal(y.hash32, sha(Buffer.from('ab'), Buffer.from('c')));
    assert.equal(cache.get(Buffer.from('a'), Buffer.from('bc')).strings, x.strings);
  });
});
