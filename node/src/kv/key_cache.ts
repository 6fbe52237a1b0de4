import type { Buffer } from 'node:buffer';
import { keyHash32 } from '../ring/chash.js';
import { newKeyStrings, type BKey, type KeyStrings } from '../vnode/vnode.js';

/** Entries of a KeyCache: a power of two. */
export const KEY_CACHE_SLOTS = 4096;
/** Longer bucket/key pairs are not cached, so the cache holds at most a few MiB whatever the keys. */
export const KEY_CACHE_MAX_BYTES = 512;

interface Entry {
  /** bucket then key: a copy (up to 64 bytes V8 keeps it on its heap, as cheap as any object) */
  bytes: Uint8Array;
  bucketLength: number;
  hash32: number;
  /** made on the first repeat: a key named once leaves nothing else behind to outlive its request */
  strings: KeyStrings | undefined;
}

/**
 * Recently named bucket/key pairs, direct-mapped by an FNV-1a of their bytes,
 * with their hash and storage key strings. Clients read and write the same
 * keys over and over: a hot key then costs a byte comparison instead of a
 * SHA-1, and from its second request on, the storage key strings its vnodes
 * made for it (whose string hash V8 keeps) are shared by every BKey of its
 * bytes, so a backend map lookup does not build and hash a new string per
 * request. An entry keeps a copy of the bytes, never the request's buffers
 * (views of socket reads).
 */
export class KeyCache {
  private readonly slots: (Entry | undefined)[] = new Array<Entry | undefined>(KEY_CACHE_SLOTS);

  /** A BKey of the request's own buffers, with the cached hash and strings of their bytes. */
  get(bucket: Buffer, key: Buffer): BKey {
    const bl = bucket.length;
    const kl = key.length;
    if (bl + kl > KEY_CACHE_MAX_BYTES) return { bucket, key, hash32: keyHash32(bucket, key) };
    let f = Math.imul(0x811c9dc5 ^ (bl & 255), 0x01000193);
    for (let i = 0; i < bl; i++) f = Math.imul(f ^ bucket[i]!, 0x01000193);
    for (let i = 0; i < kl; i++) f = Math.imul(f ^ key[i]!, 0x01000193);
    const slot = (f ^ (f >>> 16)) & (KEY_CACHE_SLOTS - 1);
    const hit = this.slots[slot];
    if (hit !== undefined && hit.bucketLength === bl && holds(hit.bytes, bucket, key)) {
      const b: BKey = { bucket, key, hash32: hit.hash32 };
      b.strings = hit.strings ??= newKeyStrings(b);
      return b;
    }
    const bytes = new Uint8Array(bl + kl);
    bytes.set(bucket, 0);
    bytes.set(key, bl);
    const hash32 = keyHash32(bucket, key);
    this.slots[slot] = { bytes, bucketLength: bl, hash32, strings: undefined };
    return { bucket, key, hash32 };
  }
}

/** bytes === bucket ++ key (the bucket's length already matched) */
function holds(bytes: Uint8Array, bucket: Buffer, key: Buffer): boolean {
  const bl = bucket.length;
  if (bytes.length !== bl + key.length) return false;
  for (let i = 0; i < bl; i++) if (bytes[i] !== bucket[i]) return false;
  for (let i = 0; i < key.length; i++) if (bytes[bl + i] !== key[i]) return false;
  return true;
}
