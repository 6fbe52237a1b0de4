/**
 * Ring resize and repair handoff with real `rkv start` processes (RocksDB):
 * grow 16 -> 32 -> 64 and shrink 64 -> 32 under a steady write load, abort a
 * resize half way, kill -9 a node in the middle of one, and rebuild a wiped
 * partition with `rkv admin repair`. After each step every acknowledged key is
 * read back from every node and every replica is checked to sit exactly in the
 * partitions its hash belongs to; at the end each node's RocksDB is read
 * offline to show no data of another ring size or another owner is left.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { partitionOfHash, replicaPartitions } from '../../node/src/ring/chash.js';
import { joinAll, logs, sleep, startNodes, waitConverged, waitFor, waitNoTransfers, type TestNode, type Transfers } from './helpers.js';
import {
  assertReadableEverywhere,
  BUCKET,
  hashOf,
  keysOfPartition,
  Load,
  loadValue,
  metricValue,
  readStore,
  ringStatus,
  setKeys,
  waitExactPlacement,
  wipePartition,
  type RingStatus,
} from './resize_helpers.js';

type PlanView = { changes: { action: string; node: string; size?: number }[]; transfers: unknown[]; resize?: { from: number; to: number; partitions: number }; summary: string };

const PRELOAD = 3000;

async function setLimit(nodes: TestNode[], limit: number | number[]): Promise<void> {
  await Promise.all(nodes.map((n, i) => n.api('PUT', '/admin/transfer-limit', { limit: typeof limit === 'number' ? limit : limit[i]! })));
}

async function waitRing(nodes: TestNode[], what: string, ok: (s: RingStatus) => boolean, timeoutMs = 60_000): Promise<RingStatus> {
  return waitFor(what, async (seen) => {
    const all: Record<string, unknown> = {};
    let first: RingStatus | undefined;
    for (const n of nodes) {
      const s = await ringStatus(n);
      all[n.name] = { ringSize: s.ringSize, resize: s.resize, version: s.version };
      seen(all);
      if (!ok(s)) return undefined;
      first ??= s;
    }
    return first;
  }, { timeoutMs, intervalMs: 50 });
}

/**
 * No transfer anywhere across more than one handoff tick (1 s): re-homing jobs
 * for data of another ring size are found by the tick, so one empty poll right
 * after a ring change proves little.
 */
async function waitQuiet(nodes: TestNode[], timeoutMs = 60_000): Promise<void> {
  await waitNoTransfers(nodes, timeoutMs);
  await sleep(1500);
  await waitNoTransfers(nodes, timeoutMs);
}

function assertNoLoadErrors(load: Load): void {
  assert.deepEqual(load.writeErrors.slice(0, 5), [], `${load.writeErrors.length} writes failed (none of them acknowledged): ${load.summary()}`);
  assert.deepEqual(load.readErrors.slice(0, 5), [], `${load.readErrors.length} reads of acknowledged keys failed: ${load.summary()}`);
  assert.ok(load.count > 0 && load.reads > 0, load.summary());
}

describe('ring resize and repair on three nodes', { timeout: 240_000 }, () => {
  let nodes: TestNode[] = [];
  let n1: TestNode, n2: TestNode, n3: TestNode;
  /** every key acknowledged so far, with value loadValue(key) */
  const keys: string[] = [];

  before(async () => {
    nodes = await startNodes(1, 3, { backend: 'rocksdb', ringSize: 16 });
    [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    await joinAll(n1, [n2, n3]);
    await waitConverged(nodes, nodes.map((n) => n.name), { ringSize: 16 });
    const pre = Array.from({ length: PRELOAD }, (_, i) => `p${i}`);
    await Promise.all([setKeys(n1, pre.slice(0, 1000)), setKeys(n2, pre.slice(1000, 2000)), setKeys(n3, pre.slice(2000))]);
    keys.push(...pre);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  /**
   * Stages `to` through the real CLI with every sender's transfer limit at 0,
   * checks the plan, the held resize transfers and ring-status, then lets the
   * copies run and waits for the switch, all under a write and read load.
   */
  async function resizeUnderLoad(from: number, to: number): Promise<void> {
    const load = new Load({ prefix: `r${to}x${from}-`, targets: () => nodes, maxKeys: 20_000, paceMs: 4 }).start();
    try {
      await load.waitForWrites(150);
      await setLimit(nodes, 0);
      const staged = await n2.cli<{ staged: { action: string; size: number } }>('ring', 'resize', String(to));
      assert.deepEqual(staged.staged, { action: 'resize', size: to });
      const plan = await n3.cli<PlanView>('cluster', 'plan');
      assert.deepEqual(plan.resize, { from, to, partitions: from });
      assert.deepEqual(plan.changes.map((c) => [c.action, c.size]), [['resize', to]]);
      assert.deepEqual(plan.transfers, []);
      // a plan, even asked of a node that is not the claimant, changes nothing
      for (const n of [n3, n1]) {
        const s = await ringStatus(n);
        assert.deepEqual([s.ringSize, s.resize, s.staged.map((x) => [x.action, x.size])], [from, undefined, [['resize', to]]], `${n.name} after the plan`);
      }
      const committed = await n1.cli<{ committed: boolean }>('cluster', 'commit');
      assert.equal(committed.committed, true);

      // held: the old ring stays in place, every old partition waits to be copied by its owner
      const rs = await waitRing(nodes, `resize to ${to} visible in ring-status`, (s) => s.resize?.to === to);
      assert.equal(rs.ringSize, from);
      assert.deepEqual(rs.resize, { to, pendingPartitions: from });
      const held = await waitFor(`${from} held resize transfers`, async (seen) => {
        const t = await n1.cli<Transfers>('transfers');
        seen(t);
        return t.pending.filter((x) => x.type === 'resize').length === from ? t : undefined;
      });
      assert.equal(held.active.length, 0);
      const rows = held.pending.filter((x) => x.type === 'resize') as (Transfers['pending'][number] & { size?: number })[];
      assert.deepEqual(rows.map((x) => x.partition).sort((a, b) => a - b), Array.from({ length: from }, (_, p) => p));
      for (const x of rows) assert.equal(x.size, from);

      // writes keep being acknowledged while the resize is held
      await load.waitForWrites(100);
      await setLimit(nodes, 2);
      await waitRing(nodes, `ring size ${to} on every node`, (s) => s.ringSize === to && s.resize === undefined);
      // and after the switch
      await load.waitForWrites(150);
    } finally {
      await load.stop();
    }
    keys.push(...load.acked);
    assertNoLoadErrors(load);
    await waitQuiet(nodes);
    await assertReadableEverywhere(nodes, keys);
    await waitExactPlacement(nodes, keys, to);
  }

  it('grows 16 -> 32 under load: no error, no lost key, every key only in its partitions', async () => {
    await resizeUnderLoad(16, 32);
    assert.ok((await metricValue(n1, 'rkv_handoffs_total', { type: 'resize', outcome: 'ok' })) > 0, 'resize handoffs counted');
  });

  it('grows 32 -> 64 under load', async () => {
    await resizeUnderLoad(32, 64);
  });

  it('shrinks 64 -> 32 under load', async () => {
    await resizeUnderLoad(64, 32);
    // membership-style checks agree: balanced ownership, nothing pending
    await waitConverged(nodes, nodes.map((n) => n.name), { ringSize: 32 });
  });

  it('resize-abort before completion returns to the old size with nothing lost', async () => {
    const load = new Load({ prefix: 'abort-', targets: () => nodes, maxKeys: 20_000, paceMs: 4 }).start();
    let partway: RingStatus;
    try {
      await load.waitForWrites(100);
      // only n1 copies, one partition at a time: the resize cannot complete
      await setLimit(nodes, [1, 0, 0]);
      await n1.cli('ring', 'resize', '64');
      await n1.cli('cluster', 'plan');
      await n1.cli('cluster', 'commit');
      partway = await waitRing(nodes, 'some partitions copied, not all', (s) => s.resize !== undefined && s.resize.pendingPartitions < 32, 30_000);
      assert.equal(partway.ringSize, 32);
      await load.waitForWrites(100);
      const aborted = await n2.cli<{ aborted: boolean; ringSize: number }>('ring', 'resize-abort');
      assert.deepEqual(aborted, { aborted: true, ringSize: 32 });
      await waitRing(nodes, 'abort seen everywhere', (s) => s.resize === undefined && s.ringSize === 32);
      // a second abort has nothing to abort
      await assert.rejects(n3.cli('ring', 'resize-abort'), /no ring resize/);
      await setLimit(nodes, 2);
      await load.waitForWrites(150);
    } finally {
      await load.stop();
    }
    keys.push(...load.acked);
    assertNoLoadErrors(load);
    await waitQuiet(nodes);
    await assertReadableEverywhere(nodes, keys);
    await waitExactPlacement(nodes, keys, 32);

    // offline: the copies made into the aborted 64-partition ring were re-homed and dropped
    assert.equal(await n3.stop(), 0);
    const stored = await readStore(n3);
    await n3.start();
    const sizes = new Map<number, number>();
    for (const e of stored) sizes.set(e.ringSize, (sizes.get(e.ringSize) ?? 0) + 1);
    assert.deepEqual([...sizes.keys()], [32], `ring sizes of the entries n3 holds: ${JSON.stringify([...sizes])}`);
    await waitConverged(nodes, nodes.map((n) => n.name), { ringSize: 32 });
  });

  it('kill -9 of a node in the middle of a resize: after restart the resize completes and nothing is lost', async () => {
    const owned2 = (await n2.vnodeStatus()).vnodes.filter((v) => v.primary).length;
    let live = nodes;
    const load = new Load({ prefix: 'kill-', targets: () => live, maxKeys: 20_000, paceMs: 4 }).start();
    try {
      await load.waitForWrites(100);
      // n2 copies one partition at a time; the others wait until it is dead
      await setLimit(nodes, [0, 1, 0]);
      await n3.cli('ring', 'resize', '64');
      await n3.cli('cluster', 'plan');
      await n3.cli('cluster', 'commit');
      await waitRing([n1], 'n2 has copied a partition', (s) => s.resize !== undefined && s.resize.pendingPartitions < 32, 30_000);
      live = [n1, n3];
      await n2.kill9();
      const mid = await ringStatus(n1);
      assert.ok(mid.resize && mid.resize.pendingPartitions > 32 - owned2, `killed with n2's copies still pending: ${JSON.stringify(mid.resize)}`);
      await setLimit([n1, n3], 2);
      await load.waitForWrites(150);
      await n2.start();
      live = nodes;
      await waitRing(nodes, 'ring size 64 on every node after the restart', (s) => s.ringSize === 64 && s.resize === undefined, 90_000).catch((e: Error) => assert.fail(`${e.message}\n${logs(nodes)}`));
      await load.waitForWrites(150);
    } finally {
      await load.stop();
    }
    // The kill fails the requests in flight to n2 (never acknowledged); such a write may still
    // have reached some replicas, so the client retries it, as a client would, before the checks.
    const failed = load.writeErrors.map((e) => e.key);
    if (failed.length > 0) console.log(`# kill -9 phase: ${failed.length} writes failed (not acknowledged, retried), e.g. ${JSON.stringify(load.writeErrors.slice(0, 3))}`);
    assert.ok(load.writeErrors.every((e) => e.error.includes(n2.name)), `only requests sent to the killed node may fail: ${JSON.stringify(load.writeErrors.slice(0, 5))}`);
    await setKeys(n1, failed);
    keys.push(...load.acked, ...failed);
    // a read sent to the node at the moment it is killed fails on the client side like a write does;
    // any other failed read would be a real problem
    assert.ok(load.readErrors.every((e) => e.error.startsWith(`GET via ${n2.name}: `)), `only reads sent to the killed node may fail, and only to reach it: ${JSON.stringify(load.readErrors.slice(0, 5))}`);
    await waitQuiet(nodes, 90_000);
    await assertReadableEverywhere(nodes, keys);
    await waitExactPlacement(nodes, keys, 64);
  });

  it('repair rebuilds a wiped partition from its neighbours', async () => {
    const status = await n3.vnodeStatus();
    const target = status.vnodes.filter((v) => v.primary).sort((a, b) => b.entries - a.entries)[0]!;
    const p = target.partition;
    assert.ok(target.entries > 0);
    assert.equal(await n3.stop(), 0);
    const wiped = await wipePartition(n3, 64, p);
    assert.equal(wiped.length, target.entries);
    assert.deepEqual([...wiped].sort(), keysOfPartition(keys, p, 64).sort(), 'the wiped vnode held exactly the keys hashing to its arcs');
    await n3.start();
    await waitConverged(nodes, nodes.map((n) => n.name), { ringSize: 64 });
    const empty = (await n3.vnodeStatus()).vnodes.find((v) => v.partition === p);
    assert.deepEqual(empty, { ...target, entries: 0 }, 'the wiped partition is empty after the restart');

    const repairsBefore = await metricValue(n3, 'rkv_handoffs_total', { type: 'repair', outcome: 'ok' });
    // hold it to see the repair listed, then let it run
    await setLimit([n3], 0);
    const queued = await n1.cli<{ queued: boolean; partition: number; node: string }>('repair', String(p));
    assert.deepEqual(queued, { queued: true, partition: p, node: n3.name });
    const held = await n2.cli<Transfers>('transfers');
    assert.deepEqual(held.pending.filter((t) => t.type === 'repair').map((t) => [t.partition, t.to]), [[p, n3.name]]);
    await setLimit([n3], 2);
    await waitFor(`partition ${p} rebuilt on ${n3.name}`, async (seen) => {
      const v = (await n3.vnodeStatus()).vnodes.find((x) => x.partition === p);
      const t = await n3.transfers();
      seen({ vnode: v, transfers: t });
      return v?.entries === target.entries && t.active.length + t.pending.length === 0 ? true : undefined;
    });
    assert.equal(await metricValue(n3, 'rkv_handoffs_total', { type: 'repair', outcome: 'ok' }), repairsBefore + 1);
    await waitExactPlacement(nodes, keys, 64);
    // every key of the partition answers with all replicas and all primaries up
    for (const k of wiped) {
      const res = await fetch(`${n3.url}/buckets/${BUCKET}/keys/${encodeURIComponent(k)}?r=all&pr=all`);
      assert.equal(res.status, 200, `${k}: ${res.status}`);
      assert.equal(await res.text(), loadValue(k));
    }
    // a partition outside the ring is refused clearly
    await assert.rejects(n3.cli('repair', '64'), /partition must be between 0 and 63/);
  });

  it('offline: every node holds exactly its partitions of the 64 ring, each key n_val times, nothing else', async () => {
    const owner = new Map<number, string>();
    for (const n of nodes) for (const v of (await n.vnodeStatus()).vnodes) if (v.primary) owner.set(v.partition, n.name);
    assert.equal(owner.size, 64);
    await waitQuiet(nodes);
    const copies = new Map<string, number>();
    for (const n of nodes) {
      assert.equal(await n.stop(), 0);
      const problems: string[] = [];
      for (const e of await readStore(n)) {
        if (e.bucket !== BUCKET) continue;
        copies.set(e.key, (copies.get(e.key) ?? 0) + 1);
        if (e.ringSize !== 64) problems.push(`${e.key} in a ${e.ringSize}-partition vnode ${e.partition}`);
        else if (!replicaPartitions(partitionOfHash(hashOf(e.key), 64), 64, 3).includes(e.partition)) problems.push(`${e.key} in partition ${e.partition}, not one of its replicas`);
        else if (owner.get(e.partition) !== n.name) problems.push(`${e.key} in partition ${e.partition} owned by ${owner.get(e.partition)}`);
        if (e.hash32 !== hashOf(e.key)) problems.push(`${e.key} stored under hash ${e.hash32}`);
      }
      assert.deepEqual(problems.slice(0, 10), [], `${problems.length} misplaced entries on ${n.name}`);
    }
    assert.equal(copies.size, keys.length, 'no unknown and no missing key');
    const wrong = [...copies].filter(([, c]) => c !== 3);
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} keys without exactly 3 copies`);
  });
});
