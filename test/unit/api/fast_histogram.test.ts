import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../../node/src/api/metrics.js';

const buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

describe('FastHistogram', () => {
  it("exposes what prom-client's Histogram exposes for the same observations", async () => {
    const a = new Registry();
    const b = new Registry();
    const ref = new Histogram({ name: 'x_seconds', help: 'h "q" \\ x', labelNames: ['api', 'op'] as const, buckets, registers: [a] });
    const fast = new FastHistogram({ name: 'x_seconds', help: 'h "q" \\ x', labelNames: ['api', 'op'] as const, buckets, registers: [b] });
    const refPlain = new Histogram({ name: 's', help: 's', buckets: [1, 2, 3, 5], registers: [a] });
    const fastPlain = new FastHistogram({ name: 's', help: 's', buckets: [1, 2, 3, 5], registers: [b] });
    const bound = fast.labels({ api: 'http', op: 'p"ut' });
    for (const v of [0, 0.0001, 0.00011, 0.3, 5, 7, 1e-9, 0.025]) {
      ref.observe({ api: 'resp', op: 'get' }, v);
      fast.observe({ api: 'resp', op: 'get' }, v);
      ref.labels({ api: 'http', op: 'p"ut' }).observe(v);
      bound.observe(v);
      refPlain.observe(v * 10);
      fastPlain.observe(v * 10);
    }
    assert.equal(await b.metrics(), await a.metrics());
    assert.deepEqual(await b.getMetricsAsJSON(), await a.getMetricsAsJSON());
    a.resetMetrics();
    b.resetMetrics();
    assert.equal(await b.metrics(), await a.metrics());
    // a series bound before the reset counts afresh after it, from its next observation
    ref.labels({ api: 'http', op: 'p"ut' }).observe(0.2);
    bound.observe(0.2);
    assert.equal(await b.metrics(), await a.metrics());
  });

  it('refuses labels it was not declared with, and non-finite values', () => {
    const h = new FastHistogram({ name: 'y', help: 'y', labelNames: ['op'] as const, buckets, registers: [new Registry()] });
    assert.throws(() => h.observe({ bogus: 'x' } as never, 1), /not included/);
    assert.throws(() => h.observe({ op: 'get' }, Number.NaN), /not a valid number/);
  });
});
