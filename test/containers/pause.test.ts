/**
 * Nemesis: docker pause (SIGSTOP of the whole container through the freezer
 * cgroup) of one node for longer than the request timeout, then unpause.
 * Its peers' requests to it and clients talking to it time out; nothing it
 * acknowledged before or after may be lost.
 */
import { describe, it, before } from 'node:test';
import { containerTier, runScenario } from './scenario.js';

const tier = await containerTier();

describe('container tier: pause', { timeout: 300_000 }, () => {
  before(tier.prepare);

  it('one node paused for 8 s (request timeout 5 s) under load: no acknowledged write lost', { skip: tier.skip }, async () => {
    await runScenario({
      name: 'pause n2 for 8 s (request timeout 5 s)',
      label: 'pause',
      size: 3,
      loadMs: 16_000,
      args: ['--request-timeout', '5000'],
      nemesis: async (ctx) => {
        const n2 = ctx.cluster.node('n2');
        await ctx.until(3000);
        ctx.say('pause n2');
        await n2.pause();
        await ctx.until(11_000);
        ctx.say('unpause n2');
        await n2.unpause();
      },
    });
  });
});
