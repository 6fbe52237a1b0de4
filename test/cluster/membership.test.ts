/**
 * Cluster membership with real `rkv start` processes: join / plan / commit
 * through the real `rkv admin` CLI, ownership handoff, leave, restart,
 * force-remove, growing to five nodes one at a time and shrinking by two.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinAll, missingKeys, startNodes, strayVnodes, waitConverged, waitFor, waitNoTransfers, writeKeys, type MemberStatus, type TestNode, type Transfers } from './helpers.js';

type PlanView = {
  changes: { action: string; node: string }[];
  transfers: { partition: number; from: string; to: string }[];
  reassigned: { partition: number; from: string; to: string }[];
  ownership: { name: string; ringPctNow: number; ringPctAfter: number }[];
};

async function everyKeyEverywhere(nodes: TestNode[], from: number, to: number): Promise<void> {
  for (const n of nodes) {
    const missing = await missingKeys(n, from, to);
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of k${from}..k${to} not readable from ${n.name}`);
  }
}

async function noStrayData(nodes: TestNode[]): Promise<void> {
  for (const n of nodes) assert.deepEqual(await strayVnodes(n), [], `${n.name} holds data in vnodes it does not own`);
}

describe('three seeded nodes join, hand off, restart, leave', { timeout: 120_000 }, () => {
  let nodes: TestNode[] = [];
  let n1: TestNode, n2: TestNode, n3: TestNode;
  before(async () => {
    nodes = await startNodes(1, 3, { backend: 'rocksdb' });
    [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('joins through rkv admin: plan lists the joins and every move, commit hands off, all keys everywhere, only owners hold data', async () => {
    await Promise.all([writeKeys(n1, 1, 100), writeKeys(n2, 101, 200), writeKeys(n3, 201, 300)]);

    const j2 = await n2.cli<{ staged: { action: string; node: string } }>('cluster', 'join', n1.contact);
    assert.deepEqual(j2.staged, { action: 'join', node: n2.name });
    await n3.cli('cluster', 'join', n1.contact);

    // plan from a node other than the claimant: it answers with the claimant's plan
    const plan = await n3.cli<PlanView>('cluster', 'plan');
    assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.node}`).sort(), [`join ${n2.name}`, `join ${n3.name}`]);
    const after = new Map(plan.ownership.map((o) => [o.name, o.ringPctAfter]));
    for (const n of nodes) assert.ok(after.get(n.name)! >= 31 && after.get(n.name)! <= 38, `planned share of ${n.name}: ${after.get(n.name)}`);
    // every partition that changes hands is listed, all from the lone owner n1
    assert.ok(plan.transfers.length >= 10 && plan.transfers.length <= 11, `moves: ${plan.transfers.length}`);
    for (const t of plan.transfers) assert.equal(t.from, n1.name);
    assert.equal(new Set(plan.transfers.map((t) => t.partition)).size, plan.transfers.length);
    const moved = new Map(plan.transfers.map((t) => [t.partition, t.to]));

    // hold the handoffs (transfer-limit 0 on the sender) to see them pending, then let them run
    assert.deepEqual(await n1.cli('transfer-limit', '0'), { limit: 0 });
    const committed = await n1.cli<{ committed: boolean; pendingTransfers: number }>('cluster', 'commit');
    assert.equal(committed.committed, true);
    assert.equal(committed.pendingTransfers, plan.transfers.length);
    const held = await n1.cli<Transfers>('transfers');
    assert.equal(held.active.length, 0);
    assert.deepEqual(held.pending.filter((t) => t.type === 'ownership').map((t) => `${t.partition}>${t.to}`).sort(), [...moved].map(([p, to]) => `${p}>${to}`).sort());
    const during = await n2.cli<MemberStatus>('member-status');
    assert.deepEqual(during.members.map((m) => [m.name, m.status, m.ringPct]), [[n1.name, 'valid', 100], [n2.name, 'valid', 0], [n3.name, 'valid', 0]]);

    await n1.cli('transfer-limit', '2');
    const seenActive = await waitFor('an active ownership transfer or none left', async () => {
      const t = await n1.cli<Transfers>('transfers');
      if (t.active.length > 0) return 'active';
      return t.pending.length === 0 ? 'done' : undefined;
    });
    assert.ok(seenActive === 'active' || seenActive === 'done');
    const ms = await waitConverged(nodes, nodes.map((n) => n.name));
    for (const m of ms.members) assert.ok(m.ringPct >= 31 && m.ringPct <= 38, `${m.name} owns ${m.ringPct}%`);
    // the CLI agrees with the API
    const cliMs = await n3.cli<MemberStatus>('member-status');
    assert.deepEqual(cliMs.members.map((m) => m.status), ['valid', 'valid', 'valid']);
    assert.deepEqual((await n3.cli<Transfers>('transfers')).active, []);

    await everyKeyEverywhere(nodes, 1, 300);
    await noStrayData(nodes);
    // each owned partition now holds the data (3 replicas of 300 keys over 16 vnodes)
    let total = 0;
    for (const n of nodes) total += (await n.vnodeStatus()).vnodes.reduce((s, v) => s + v.entries, 0);
    assert.equal(total, 900, 'n_val 3 replicas of 300 keys, each exactly once');
  });

  it('a restarted member comes back with its ring and data', async () => {
    const before = (await n2.vnodeStatus()).vnodes.map((v) => v.partition);
    assert.equal(await n2.stop(), 0, 'clean exit on SIGTERM');
    await n2.start();
    // at once, before gossip has connected it to its peers: writes through it still land on the owners
    await writeKeys(n2, 1001, 1020);
    await everyKeyEverywhere([n1, n3], 1001, 1020);
    await waitConverged(nodes, nodes.map((n) => n.name));
    assert.deepEqual((await n2.vnodeStatus()).vnodes.map((v) => v.partition), before);
    await noStrayData([n2]);
    await everyKeyEverywhere([n2], 1, 300);
  });

  it('a member restarted on other ports (a pod with a new IP) has its new addresses adopted by every peer', async () => {
    await n3.restartOnNewPorts();
    await waitConverged(nodes, nodes.map((n) => n.name));
    await everyKeyEverywhere(nodes, 1, 300);
    // the claimant too
    await n1.restartOnNewPorts();
    await waitConverged(nodes, nodes.map((n) => n.name));
    await writeKeys(n2, 2001, 2010);
    await everyKeyEverywhere(nodes, 2001, 2010);
  });

  it('leave: the leaver hands off everything, leaves the ring and becomes standalone; no key lost', async () => {
    await n1.cli('cluster', 'leave', n3.name);
    const plan = await n1.cli<PlanView>('cluster', 'plan');
    assert.deepEqual(plan.changes, [{ action: 'leave', node: n3.name }]);
    assert.equal(plan.ownership.find((o) => o.name === n3.name)?.ringPctAfter, 0);
    assert.ok(plan.transfers.some((t) => t.from === n3.name));
    await n1.cli('cluster', 'commit');

    await waitConverged([n1, n2], [n1.name, n2.name]);
    const alone = await waitFor(`${n3.name} standalone`, async (seen) => {
      const ms = await n3.memberStatus();
      seen(ms);
      return ms.members.length === 1 && ms.members[0]!.name === n3.name && ms.members[0]!.ringPct === 100 ? ms : undefined;
    });
    assert.equal(alone.members[0]!.status, 'valid');
    await waitNoTransfers([n1, n2, n3]);
    await everyKeyEverywhere([n1, n2], 1, 300);
    await everyKeyEverywhere([n1, n2], 1001, 1020);
    await noStrayData([n1, n2]);
    // the leaver kept no copy of the cluster's data
    const left = await waitFor(`${n3.name} to drop handed-off data`, async (seen) => {
      const v = (await n3.vnodeStatus()).vnodes.filter((x) => x.entries > 0);
      seen(v);
      return v.length === 0 ? v : undefined;
    }, { timeoutMs: 10_000 });
    assert.deepEqual(left, []);
  });
});

describe('force-remove of a dead node', { timeout: 60_000 }, () => {
  let nodes: TestNode[] = [];
  before(async () => {
    nodes = await startNodes(1, 3);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('reassigns its partitions to the live members', async () => {
    const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    await joinAll(n1, [n2, n3]);
    await waitConverged(nodes, nodes.map((n) => n.name));
    await writeKeys(n1, 1, 100);
    const owned = (await n3.vnodeStatus()).vnodes.filter((v) => v.primary).map((v) => v.partition);

    await n3.kill9();
    await waitFor(`${n3.name} seen down`, async (seen) => {
      const ms = await n1.memberStatus();
      seen(ms);
      return ms.members.find((m) => m.name === n3.name)?.status === 'down' ? true : undefined;
    });
    await n2.cli('cluster', 'force-remove', n3.name);
    const plan = await n1.cli<PlanView>('cluster', 'plan');
    assert.deepEqual(plan.changes, [{ action: 'force-remove', node: n3.name }]);
    assert.deepEqual(plan.reassigned.map((r) => r.partition).sort((a, b) => a - b), owned.sort((a, b) => a - b));
    for (const r of plan.reassigned) assert.ok(r.to === n1.name || r.to === n2.name);
    await n1.cli('cluster', 'commit');

    await waitConverged([n1, n2], [n1.name, n2.name]);
    // the replicas on the dead node are gone, the others still answer
    await everyKeyEverywhere([n1, n2], 1, 100);

    // the removed node comes back: the cluster tells it it was removed, and it becomes standalone
    await n3.start();
    await waitFor(`${n3.name} to learn it was removed`, async (seen) => {
      const ms = await n3.memberStatus();
      seen(ms);
      return ms.members.length === 1 && ms.members[0]!.name === n3.name && ms.members[0]!.ringPct === 100 ? true : undefined;
    }, { timeoutMs: 10_000 });
    await waitConverged([n1, n2], [n1.name, n2.name]);
  });
});

describe('five nodes joined one at a time, then two leave (one of them the claimant)', { timeout: 120_000 }, () => {
  let nodes: TestNode[] = [];
  before(async () => {
    nodes = await startNodes(1, 5);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('stays balanced at every step and loses nothing', async () => {
    const [n1] = nodes as [TestNode];
    await writeKeys(n1, 1, 200);
    for (let i = 1; i < nodes.length; i++) {
      await joinAll(n1, [nodes[i]!]);
      // at once, before the joiner's gossip has dialled the members it just learned of: it must not take them for down
      await writeKeys(nodes[i]!, 1000 + 10 * i, 1009 + 10 * i);
      await everyKeyEverywhere([n1], 1000 + 10 * i, 1009 + 10 * i);
      const members = nodes.slice(0, i + 1);
      await waitConverged(members, members.map((n) => n.name));
      await noStrayData(members);
    }
    await everyKeyEverywhere(nodes, 1, 200);

    // the claimant (n1) and n5 leave together: the claimant role moves to a staying node
    const [, n2, n3, n4, n5] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode];
    await n3.api('POST', '/admin/cluster/leave', { node: n1.name });
    await n5.api('POST', '/admin/cluster/leave', {}); // default: the node asked
    const plan = await n4.api<PlanView>('GET', '/admin/cluster/plan');
    assert.deepEqual(plan.changes.map((c) => c.node).sort(), [n1.name, n5.name]);
    await n2.api('POST', '/admin/cluster/commit');
    const stay = [n2, n3, n4];
    await waitConverged(stay, stay.map((n) => n.name));
    for (const gone of [n1, n5]) {
      await waitFor(`${gone.name} standalone`, async (seen) => {
        const ms = await gone.memberStatus();
        seen(ms);
        return ms.members.length === 1 ? true : undefined;
      });
    }
    const rs = await n2.api<{ claimant: string }>('GET', '/admin/ring-status');
    assert.ok(stay.some((n) => n.name === rs.claimant), `claimant ${rs.claimant} is a staying node`);
    await waitNoTransfers(nodes);
    await everyKeyEverywhere(stay, 1, 200);
    await everyKeyEverywhere(stay, 1010, 1049);
    await noStrayData(stay);
  });
});
