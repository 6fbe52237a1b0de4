/**
 * Nemesis: a rolling restart, as an operator does it: one node at a time,
 * docker stop (SIGTERM: rkv closes its listeners, answers what is in flight,
 * flushes RocksDB), start on the same volume, wait until it is ready and the
 * hinted handoffs back to it are done, then the next node.
 */
import { describe, it, before } from 'node:test';
import { containerTier, runScenario } from './scenario.js';

const tier = await containerTier();

describe('container tier: rolling restart', { timeout: 300_000 }, () => {
  before(tier.prepare);

  it('every node restarted in turn under load: no acknowledged write lost', { skip: tier.skip }, async () => {
    await runScenario({
      name: 'rolling restart of n1, n2, n3',
      label: 'rolling',
      size: 3,
      loadMs: 10_000,
      nemesis: async (ctx) => {
        const { cluster } = ctx;
        await ctx.until(2000);
        for (const n of cluster.nodes) {
          ctx.say(`stop ${n.alias}`);
          await n.stop();
          ctx.say(`start ${n.alias}`);
          await n.start();
          await cluster.waitConverged(cluster.nodes, 60_000);
          ctx.say(`${n.alias} back, handoffs done`);
        }
      },
    });
  });
});
