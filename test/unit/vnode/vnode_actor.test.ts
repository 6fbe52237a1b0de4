import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend } from '../../../node/src/backend/open.js';
import type { Backend } from '../../../node/src/backend/backend.js';
import { VnodeManager } from '../../../node/src/vnode/manager.js';
import type { BKey, Vnode } from '../../../node/src/vnode/vnode.js';
import { mergeObjects, type Content } from '../../../node/src/object/object.js';
import { loadIdentity, markCleanShutdown, type NodeIdentity } from '../../../node/src/node_identity.js';

const content = (v: string, lastModified: number): Content => ({ value: Buffer.from(v), contentType: 'text/plain', lastModified, deleted: false });
const bkey: BKey = { bucket: Buffer.from('default'), key: Buffer.from('register'), hash32: 0x2468ace0 };

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rkv-actor-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Partition 3's vnode on a node of its own (a backend, an actor epoch), closed when the test ends. */
function partitionOnNode(t: { after(fn: () => Promise<void>): void }, kind: 'memory' | 'rocksdb'): (epoch: string) => Promise<Vnode> {
  const backends: Backend[] = [];
  t.after(async () => {
    for (const b of backends) await b.close();
  });
  return async (epoch) => {
    const backend = await openBackend(kind, await tempDir(t));
    backends.push(backend);
    return new VnodeManager(backend, () => 16, { epoch, generations: {}, counters: {} }).vnode(3);
  };
}

for (const kind of ['memory', 'rocksdb'] as const) {
  describe(`vnode actors (${kind})`, () => {
    it('a fallback that wrote, was handed off, dropped and wrote again keeps both its writes apart', async (t) => {
      // three nodes' copies of one partition of an allow_mult bucket: b and c primaries, a fallback on node f
      const node = partitionOnNode(t, kind);
      const [f, b, c] = [await node('f'), await node('b'), await node('c')];
      const first = await f.coordinatePut(bkey, content('v1', 1), {}, false);
      await b.mergePut(bkey, first, false);
      const second = await c.coordinatePut(bkey, content('v2', 2), {}, false);
      // the fallback's copy went to its owner (above) and was dropped; then a replica write reached it
      const actorBefore = f.actor;
      await f.drop();
      assert.notEqual(f.actor, actorBefore, 'a vnode that dropped its data coordinates as a new actor');
      await f.mergePut(bkey, second, false);
      // a write that saw v2 and not v1: it replaces v2 and is concurrent with v1
      await f.coordinatePut(bkey, content('v3', 3), second.clock, false);
      await c.mergePut(bkey, (await b.get(bkey))!, false);

      // With f's old actor, v3 took v1's dot: the merge took them for one write and lost one of them.
      const merged = mergeObjects((await f.get(bkey))!, (await c.get(bkey))!);
      assert.deepEqual(merged.siblings.map((s) => s.value.toString()).sort(), ['v1', 'v3']);
    });

    it('a key re-created after its tombstone was reaped on one replica only is not hidden by the tombstone kept elsewhere', async (t) => {
      const node = partitionOnNode(t, kind);
      const [a, b] = [await node('a'), await node('b')];
      await a.coordinatePut(bkey, content('v1', 1), undefined, false);
      await a.coordinatePut(bkey, content('v2', 2), undefined, false);
      const tombstone = await a.coordinatePut(bkey, { ...content('', 3), deleted: true }, undefined, false);
      await b.mergePut(bkey, tombstone, false);
      // the reap reached a, not b (it failed there): b keeps the tombstone
      assert.equal(await a.reap(bkey, tombstone.clock), true);
      assert.equal(await a.get(bkey), undefined);

      const recreated = await a.coordinatePut(bkey, content('v4', 4), undefined, false);
      await b.mergePut(bkey, recreated, false);
      for (const replica of [await a.get(bkey), await b.get(bkey)]) {
        assert.deepEqual(replica!.siblings.map((s) => s.value.toString()), ['v4']);
      }
    });
  });
}

describe('node identity', () => {
  const mints = () => {
    let n = 0;
    return () => `m${++n}`;
  };

  it('keeps the actors epoch and the vnode generations across a clean shutdown only', async (t) => {
    const dir = await tempDir(t);
    const mint = mints();
    const first = await loadIdentity(dir, { mint });
    assert.deepEqual(first, { incarnation: 'm1', epoch: 'm2', generations: {}, counters: {} });
    const backend = await openBackend('memory', dir);
    const manager = new VnodeManager(backend, () => 16, first);
    const v = manager.vnode(5);
    assert.equal(v.actor, 'm2.4.5');
    await v.drop();
    assert.equal(v.actor, 'm2.4.5.2');
    await v.coordinatePut(bkey, content('x', 1), undefined, true);
    await v.coordinatePut(bkey, content('y', 2), undefined, true);
    manager.recordActors();
    await markCleanShutdown(dir, first);

    const second = await loadIdentity(dir, { mint });
    assert.deepEqual(second, { incarnation: 'm1', epoch: 'm2', generations: { '4.5': 2 }, counters: { '4.5': 2 } });
    const restarted = new VnodeManager(backend, () => 16, second).vnode(5);
    assert.equal(restarted.actor, 'm2.4.5.2', 'a restart goes on from the generation reached');
    const other = { ...bkey, key: Buffer.from('another key') };
    const written = await restarted.coordinatePut(other, content('z', 3), undefined, true);
    assert.deepEqual(written.clock, { 'm2.4.5.2': 3 }, 'and above the counters issued before');
    // no clean shutdown of this run: the next one is a crash recovery
    const third = await loadIdentity(dir, { mint });
    assert.deepEqual(third, { incarnation: 'm1', epoch: 'm3', generations: {}, counters: {} });
    assert.equal(new VnodeManager(backend, () => 16, third).vnode(5).actor, 'm3.4.5');
  });

  it('takes a new epoch at every start of a backend that keeps no data', async (t) => {
    const dir = await tempDir(t);
    const mint = mints();
    const first = await loadIdentity(dir, { mint, keepsData: false });
    await markCleanShutdown(dir, first);
    assert.notEqual((await loadIdentity(dir, { mint, keepsData: false })).epoch, first.epoch);
  });

  it('reads a data dir written before epochs existed, keeping its incarnation', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'node.json'), JSON.stringify({ incarnation: 'old1' }));
    const id: NodeIdentity = await loadIdentity(dir, { mint: mints() });
    assert.deepEqual(id, { incarnation: 'old1', epoch: 'm1', generations: {}, counters: {} });
    assert.equal(JSON.parse(await readFile(join(dir, 'node.json'), 'utf8')).clean, false);
  });

  it('refuses an identity file that is not one, naming it', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'node.json'), '{"incar');
    await assert.rejects(loadIdentity(dir), /node identity file .*node\.json is unreadable/);
    await writeFile(join(dir, 'node.json'), '{"epoch":"x"}');
    await assert.rejects(loadIdentity(dir), /node identity file .*node\.json has no incarnation/);
  });
});
