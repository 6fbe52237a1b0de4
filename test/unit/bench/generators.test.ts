import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyGenerator, opChooser, partition, sizeGenerator, ValueGen, valuePool } from '../../../node/src/bench/generators.js';
import { mulberry32, streamFor } from '../../../node/src/bench/prng.js';
import type { KeySpec } from '../../../node/src/bench/config.js';

function draws(gen: () => number, n: number): number[] {
  return Array.from({ length: n }, gen);
}

function counts(values: number[], n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const v of values) c[v]!++;
  return c;
}

describe('bench PRNG', () => {
  it('repeats for the same seed and differs across seeds, workers and streams', () => {
    assert.deepEqual(draws(mulberry32(42), 5), draws(mulberry32(42), 5));
    assert.notDeepEqual(draws(mulberry32(42), 5), draws(mulberry32(43), 5));
    assert.deepEqual(draws(streamFor(42, 3, 'keys'), 5), draws(streamFor(42, 3, 'keys'), 5));
    assert.notDeepEqual(draws(streamFor(42, 3, 'keys'), 5), draws(streamFor(42, 4, 'keys'), 5));
    assert.notDeepEqual(draws(streamFor(42, 3, 'keys'), 5), draws(streamFor(42, 3, 'ops'), 5));
    for (const x of draws(mulberry32(7), 10_000)) assert.ok(x >= 0 && x < 1);
  });
});

describe('bench key generators', () => {
  const make = (spec: KeySpec, seed = 42, worker = 0, workers = 1) => keyGenerator(spec, streamFor(seed, worker, 'keys'), worker, workers);

  it('repeat the same key sequence for the same seed', () => {
    for (const kind of ['uniform', 'pareto', 'sequential', 'partitioned'] as const) {
      assert.deepEqual(draws(make({ kind, n: 1000 }), 200), draws(make({ kind, n: 1000 }), 200), kind);
    }
    assert.notDeepEqual(draws(make({ kind: 'uniform', n: 1000 }, 1), 50), draws(make({ kind: 'uniform', n: 1000 }, 2), 50));
  });

  it('uniform:N stays in range and is roughly flat', () => {
    const n = 20;
    const c = counts(draws(make({ kind: 'uniform', n }), 100_000), n);
    for (const x of c) assert.ok(Math.abs(x - 5000) < 500, `bucket count ${x} too far from 5000`);
  });

  it('pareto:N sends about 80% of hits to the hottest 20% of keys', () => {
    const n = 1000;
    const keys = draws(make({ kind: 'pareto', n }), 200_000);
    assert.ok(keys.every((k) => k >= 0 && k < n && Number.isInteger(k)));
    const sorted = counts(keys, n).sort((a, b) => b - a);
    const top = sorted.slice(0, n / 5).reduce((a, b) => a + b, 0) / keys.length;
    assert.ok(top > 0.75 && top < 0.88, `top 20% of keys got ${(top * 100).toFixed(1)}% of hits`);
  });

  it('sequential:N walks 0..N-1 and wraps', () => {
    assert.deepEqual(draws(make({ kind: 'sequential', n: 3 }), 7), [0, 1, 2, 0, 1, 2, 0]);
  });

  it('partitioned:N gives each worker a disjoint slice, sequential within it, covering all keys', () => {
    const n = 103;
    const workers = 4;
    const seen = new Set<number>();
    for (let w = 0; w < workers; w++) {
      const [lo, hi] = partition(n, w, workers);
      const keys = draws(make({ kind: 'partitioned', n }, 42, w, workers), hi - lo);
      assert.deepEqual(keys, Array.from({ length: hi - lo }, (_, i) => lo + i));
      for (const k of keys) {
        assert.ok(!seen.has(k), `key ${k} in two slices`);
        seen.add(k);
      }
      assert.equal(make({ kind: 'partitioned', n }, 42, w, workers)(), lo);
    }
    assert.equal(seen.size, n);
  });
});

describe('bench value generators', () => {
  it('fixed:B gives B bytes', () => {
    const gen = new ValueGen(sizeGenerator({ kind: 'fixed', bytes: 100 }, mulberry32(1)), mulberry32(2), 0, valuePool(mulberry32(3), 100));
    for (let i = 0; i < 50; i++) assert.equal(gen.next().length, 100);
  });

  it('random:MIN-MAX sizes stay in range, reach both ends and repeat per seed', () => {
    const spec = { kind: 'random', min: 10, max: 20 } as const;
    const sizes = draws(sizeGenerator(spec, mulberry32(5)), 5000);
    assert.ok(sizes.every((s) => s >= 10 && s <= 20));
    assert.equal(Math.min(...sizes), 10);
    assert.equal(Math.max(...sizes), 20);
    assert.deepEqual(sizes.slice(0, 20), draws(sizeGenerator(spec, mulberry32(5)), 20));
    const a = new ValueGen(sizeGenerator(spec, mulberry32(5)), mulberry32(6), 3, valuePool(mulberry32(7), 20));
    const b = new ValueGen(sizeGenerator(spec, mulberry32(5)), mulberry32(6), 3, valuePool(mulberry32(7), 20));
    for (let i = 0; i < 20; i++) assert.deepEqual(a.next(), b.next());
  });

  it('successive values differ, so a stale read is visible', () => {
    const gen = new ValueGen(sizeGenerator({ kind: 'fixed', bytes: 64 }, mulberry32(1)), mulberry32(2), 0, valuePool(mulberry32(3), 64));
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(gen.next().toString('hex'));
    assert.equal(seen.size, 1000);
  });
});

describe('bench op chooser', () => {
  it('follows the weights', () => {
    const choose = opChooser([{ op: 'get', weight: 2 }, { op: 'put', weight: 10 }, { op: 'get_own_puts', weight: 3 }], mulberry32(9));
    const n = 60_000;
    const c = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const op = choose();
      c.set(op, (c.get(op) ?? 0) + 1);
    }
    assert.ok(Math.abs(c.get('get')! / n - 2 / 15) < 0.01);
    assert.ok(Math.abs(c.get('put')! / n - 10 / 15) < 0.01);
    assert.ok(Math.abs(c.get('get_own_puts')! / n - 3 / 15) < 0.01);
  });
});
