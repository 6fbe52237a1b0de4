/**
 * Nemesis: kill -9 of one node under load (docker kill -s KILL: no shutdown,
 * no flush), then a restart of the same container on the same volume.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { containerTier, runScenario } from './scenario.js';

const tier = await containerTier();

describe('container tier: kill -9 and restart', { timeout: 300_000 }, () => {
  before(tier.prepare);

  it('kill -9 of one node under load, restart on its volume: no acknowledged write lost', { skip: tier.skip }, async () => {
    await runScenario({
      name: 'kill -9 n2 under load, restart on its volume',
      label: 'kill9',
      size: 3,
      loadMs: 16_000,
      nemesis: async (ctx) => {
        const n2 = ctx.cluster.node('n2');
        const stored = async () => (await n2.vnodeStatus()).vnodes.reduce((sum, v) => sum + v.entries, 0);
        await ctx.until(4000);
        const before = await stored();
        ctx.say(`kill -9 n2 (holding ${before} objects)`);
        await n2.kill();
        await ctx.until(9000);
        ctx.say('start n2');
        await n2.start();
        const after = await stored();
        ctx.say(`n2 ready, holding ${after} objects`);
        // what n2 had written to its volume survived the kill (rocksdb's WAL is in the page cache before the ack)
        assert.ok(after >= before, `n2 held ${before} objects before kill -9 and ${after} after restarting on its volume`);
      },
    });
  });
});
