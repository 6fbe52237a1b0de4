/**
 * Seeded randomness for `rkv bench`. Every random choice of a run comes from
 * here so that the same --seed replays the same operations, keys and values.
 * mulberry32 is tiny, fast and good enough for load shapes (it is not for
 * cryptography); splitmix32 spreads nearby seeds (worker 0, 1, 2...) so their
 * streams do not start correlated.
 */
export type Rng = () => number;

/** One step of splitmix32: a 32-bit finaliser used to derive stream seeds. */
export function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Uniform floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Named streams per worker, so e.g. value sizes never shift the key sequence. */
export type Stream = 'ops' | 'keys' | 'values' | 'own' | 'pool';
const STREAM_SALT: Record<Stream, number> = { ops: 1, keys: 2, values: 3, own: 4, pool: 5 };

export function streamFor(seed: number, worker: number, stream: Stream): Rng {
  return mulberry32(splitmix32(splitmix32(splitmix32(seed) ^ worker) ^ STREAM_SALT[stream]));
}

/** Integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}
