/**
 * Nemesis: membership changes under load. A fourth node joins (admin API
 * join, plan, commit) and takes over its share of the ring while clients
 * write; once it has, n1 leaves and hands everything off. Clients start
 * using n4 once its join is committed and stop using n1 when its leave is
 * staged (as a load balancer would drain it): after leaving, n1 becomes a
 * standalone node whose writes are no longer the cluster's.
 */
import { describe, it, before } from 'node:test';
import { containerTier, runScenario } from './scenario.js';

const tier = await containerTier();

describe('container tier: join and leave', { timeout: 300_000 }, () => {
  before(tier.prepare);

  it('a node joins and another leaves under load: no acknowledged write lost', { skip: tier.skip }, async () => {
    await runScenario({
      name: 'join n4, then leave n1, under load',
      label: 'joinleave',
      size: 3,
      loadMs: 16_000,
      nemesis: async (ctx) => {
        const { cluster } = ctx;
        const [n1, n2] = cluster.nodes;
        await ctx.until(2000);
        ctx.say('start n4');
        const n4 = await cluster.addNode();
        ctx.say('join n4');
        await cluster.join(n2!, [n4]);
        ctx.targets = [...cluster.nodes];
        ctx.members = [...cluster.nodes];
        await cluster.waitConverged(ctx.members, 90_000);
        ctx.say('n4 joined, transfers done');
        await ctx.until(8000);
        ctx.say('leave n1');
        ctx.targets = ctx.targets.filter((n) => n !== n1);
        ctx.members = ctx.members.filter((n) => n !== n1);
        await cluster.leave(n2!, n1!);
        await cluster.waitConverged(ctx.members, 90_000);
        ctx.say('n1 left, transfers done');
      },
    });
  });
});
