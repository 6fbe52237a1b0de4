/**
 * Coverage queries at a larger scale: 5 real nodes and 100k keys. Every
 * listing and count must see each key exactly once, from any node, also with
 * one node down (n_val 3 keeps a reachable replica of every partition).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinAll, startNodes, waitConverged, waitNoTransfers, writeKeys, type TestNode } from './helpers.js';

const KEYS = 100_000;
const RING = 64;

describe('coverage queries on 5 nodes with 100k keys', { timeout: 240_000 }, () => {
  let nodes: TestNode[] = [];

  before(async () => {
    nodes = await startNodes(41, 5, { ringSize: RING, backend: 'memory' });
    await joinAll(nodes[0]!, nodes.slice(1));
    await waitConverged(nodes, nodes.map((n) => n.name), { ringSize: RING, timeoutMs: 60_000 });
    await waitNoTransfers(nodes, 60_000);
    // five writers, one per node, 20k keys each
    await Promise.all(nodes.map((n, i) => writeKeys(n, i * (KEYS / 5), (i + 1) * (KEYS / 5) - 1, 0, 500)));
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('counts and lists every key exactly once from every node', async () => {
    for (const n of nodes) {
      const r = n.redis();
      await r.connect();
      try {
        assert.equal(await r.dbsize(), KEYS, `DBSIZE on ${n.name}`);
      } finally {
        r.disconnect();
      }
    }
    const listing = (await nodes[2]!.api('GET', '/admin/keys/default')) as { keys: string[]; partial: boolean };
    assert.equal(listing.partial, false);
    assert.equal(listing.keys.length, KEYS);
    const listed = new Set(listing.keys);
    assert.equal(listed.size, KEYS, 'no key listed twice');
    for (let i = 0; i < KEYS; i++) if (!listed.has(`k${i}`)) assert.fail(`k${i} missing from the listing`);
  });

  it('SCAN walks all 100k keys once per key across pages', async () => {
    const r = nodes[4]!.redis();
    await r.connect();
    try {
      const seen = new Set<string>();
      let cursor = '0';
      let pages = 0;
      do {
        const [next, keys] = await r.scan(cursor, 'COUNT', 2000);
        for (const k of keys) seen.add(k);
        cursor = next;
        pages++;
      } while (cursor !== '0' && pages < 10_000);
      assert.equal(seen.size, KEYS);
    } finally {
      r.disconnect();
    }
  });

  it('with one node down, allup and all still cover every key', async () => {
    await nodes[3]!.kill9();
    const live = nodes.filter((_, i) => i !== 3);
    // the survivors notice the dead node before they plan around it
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ms = (await live[0]!.api('GET', '/admin/member-status')) as { members: { name: string; reachable: boolean }[] };
      if (ms.members.some((m) => m.name === nodes[3]!.name && !m.reachable)) break;
      if (Date.now() > deadline) throw new Error('dead node still reported reachable');
      await new Promise((res) => setTimeout(res, 100));
    }
    for (const selector of ['allup', 'all']) {
      const c = (await live[0]!.api('GET', `/admin/count/default?selector=${selector}`)) as { count: number; partial: boolean };
      assert.deepEqual({ count: c.count, partial: c.partial }, { count: KEYS, partial: false }, `count with selector=${selector}`);
    }
    const listing = (await live[1]!.api('GET', '/admin/keys/default?selector=all')) as { keys: string[] };
    assert.equal(new Set(listing.keys).size, KEYS);
    assert.equal(listing.keys.length, KEYS);
  });
});
