/**
 * Nemesis: network partitions (docker network disconnect/connect through
 * dockerode). A partitioned node is moved to a network of its own side, so
 * clients still reach every node through its mapped ports and both sides
 * take writes (sloppy quorum); the heal moves it back.
 */
import { describe, it, before } from 'node:test';
import { containerTier, runScenario } from './scenario.js';

const tier = await containerTier();

describe('container tier: network partitions', { timeout: 600_000 }, () => {
  before(tier.prepare);

  it('one node isolated from its peers under load, then healed: no acknowledged write lost', { skip: tier.skip }, async () => {
    await runScenario({
      name: 'partition: n3 isolated for 10 s (3 nodes)',
      label: 'isolate',
      size: 3,
      loadMs: 18_000,
      nemesis: async (ctx) => {
        const { cluster } = ctx;
        const island = await cluster.createNetwork('island');
        await ctx.until(3000);
        ctx.say('isolate n3');
        await cluster.node('n3').moveTo(island);
        await ctx.until(13_000);
        ctx.say('heal');
        await cluster.node('n3').moveTo(cluster.network.getName());
      },
    });
  });

  it('a 2/3 split of five nodes under load, then healed: no acknowledged write lost', { skip: tier.skip }, async () => {
    await runScenario({
      name: 'partition: {n1,n2} | {n3,n4,n5} for 10 s (5 nodes)',
      label: 'split',
      size: 5,
      loadMs: 18_000,
      workload: { respClients: 5 },
      nemesis: async (ctx) => {
        const { cluster } = ctx;
        const minority = await cluster.createNetwork('minority');
        await ctx.until(3000);
        ctx.say('split {n1,n2} | {n3,n4,n5}');
        await Promise.all(['n1', 'n2'].map((a) => cluster.node(a).moveTo(minority)));
        await ctx.until(13_000);
        ctx.say('heal');
        await Promise.all(['n1', 'n2'].map((a) => cluster.node(a).moveTo(cluster.network.getName())));
      },
    });
  });
});
