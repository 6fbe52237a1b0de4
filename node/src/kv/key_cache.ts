import { Buffer } from 'node:buffer';
import { keyHash32 } from '../ring/chash.js';
import type { BKey } from '../vnode/vnode.js';

/** Entries of a KeyCache: a power of two. */
export const KEY_CACHE_SLOTS = 4096;
/** Longer bucket/key pairs are not cached, so the cache holds at most a few MiB whatever the keys. */
export const KEY_CACHE_MAX_BYTES = 512;

/**
 * Recently named bucket/key pairs, direct-mapped by an FNV-1a of their bytes,
 * each with the one BKey made for it. Clients read and write the same keys
 * over and over: a hot key then costs a byte comparison instead of a SHA-1,
 * and its BKey carries the storage key strings its vnodes made for it (whose
 * string hash V8 keeps), so a backend map lookup does not hash a new string
 * per request. An entry holds its own copy of the bytes: the request's
 * buffers are views of socket reads that are reused or much larger.
 */
export class KeyCache {
  private readonly slots: (BKey | undefined)[] = new Array<BKey | undefined>(KEY_CACHE_SLOTS);

  /** The BKey of these bytes: shared by every request naming them while they stay cached. */
  get(bucket: Buffer, key: Buffer): BKey {
    const bl = bucket.length;
    const kl = key.length;
    if (bl + kl > KEY_CACHE_MAX_BYTES) return { bucket, key, hash32: keyHash32(bucket, key) };
    let f = Math.imul(0x811c9dc5 ^ (bl & 255), 0x01000193);
    for (let i = 0; i < bl; i++) f = Math.imul(f ^ bucket[i]!, 0x01000193);
    for (let i = 0; i < kl; i++) f = Math.imul(f ^ key[i]!, 0x01000193);
    const slot = (f ^ (f >>> 16)) & (KEY_CACHE_SLOTS - 1);
    const hit = this.slots[slot];
    if (hit !== undefined && sameBytes(hit.key, key) && sameBytes(hit.bucket, bucket)) return hit;
    const own = Buffer.allocUnsafeSlow(bl + kl);
    own.set(bucket, 0);
    own.set(key, bl);
    const b: BKey = { bucket: own.subarray(0, bl), key: own.subarray(bl), hash32: keyHash32(bucket, key) };
    this.slots[slot] = b;
    return b;
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
