/**
 * Quorum I/O with a node down: kill -9 one of three nodes (ring 16, n_val 3),
 * r=2/w=2 keep working through fallbacks while pr=3/pw=3 fail with 503 and
 * -UNAVAILABLE saying how many primaries are reachable; the restarted node
 * gets the fallbacks' data back by hinted handoff and the fallbacks drop it.
 * Then read repair of a replica that missed writes (hinted handoff held back
 * with transfer-limit 0), and a delete that a stale replica must not undo.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logs, strayVnodes, waitFor, waitNoTransfers, type TestNode, type Transfers } from './helpers.js';
import {
  delObj,
  entriesByPartition,
  getObj,
  metric,
  metricOn,
  mustPut,
  pickKeys,
  primaries,
  putObj,
  ringOwners,
  setProps,
  setTransferLimit,
  startCluster,
  waitProps,
  reapAttempts,
  waitReapAttempts,
} from './quorum_helpers.js';

/** Until every node in `from` sees `node` as (un)reachable. */
async function waitSeen(from: TestNode[], node: TestNode, reachable: boolean): Promise<void> {
  await waitFor(`${node.name} ${reachable ? 'reachable' : 'unreachable'} from ${from.map((n) => n.name).join(', ')}`, async (seen) => {
    for (const n of from) {
      const ms = await n.memberStatus();
      const row = ms.members.find((m) => m.name === node.name);
      seen({ [n.name]: row });
      if (row?.reachable !== reachable) return undefined;
    }
    return true;
  }, { timeoutMs: 20_000, intervalMs: 100 });
}

describe('quorum I/O with a node down, hinted handoff, read repair, deletes', { timeout: 150_000 }, () => {
  let nodes: TestNode[] = [];
  let n1: TestNode, n2: TestNode, n3: TestNode;
  let owners: string[] = [];
  before(async () => {
    nodes = await startCluster(11, { backend: 'rocksdb' });
    [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    owners = await ringOwners(nodes);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });
  // a failed test must not leave the next one with a node down
  beforeEach(async () => {
    for (const n of nodes) if (!n.running) await n.start();
    for (const n of nodes) await setTransferLimit(n, 2);
    await waitNoTransfers(nodes);
  });

  const onN3 = (reps: { owner: string }[]) => reps.some((r) => r.owner === n3.name);
  /** n3's replica partitions of each key (n3 may own more than one of a key's partitions). */
  const n3Partitions = (bucket: string, keys: string[], want = new Map<number, number>()) => {
    for (const k of keys) for (const r of primaries(owners, bucket, k)) if (r.owner === n3.name) want.set(r.partition, (want.get(r.partition) ?? 0) + 1);
    return want;
  };

  it('kill -9 one node: r=2/w=2 work through fallbacks, pr=3/pw=3 answer 503 / -UNAVAILABLE with the primaries reachable; restart: hinted handoff returns the data', async () => {
    const old = pickKeys(owners, 'kb', 'old', 6, onN3);
    for (const k of old) await mustPut(n1, 'kb', k, `old-${k}`, 'w=3');
    const n3Before = await entriesByPartition(n3);

    await n3.kill9();
    await waitSeen([n1, n2], n3, false);
    const row = (await n1.memberStatus()).members.find((m) => m.name === n3.name);
    assert.equal(row?.status, 'down', 'member-status shows the dead node down');
    assert.ok(Math.abs(row!.ringPct - (owners.filter((o) => o === n3.name).length / owners.length) * 100) < 0.1, `and still owning its partitions: ${row!.ringPct}%`);

    // reads with r=2 of data written before the failure
    for (const k of old) {
      for (const n of [n1, n2]) {
        const r = await getObj(n, 'kb', k, 'r=2');
        assert.equal(r.status, 200, `GET kb/${k}?r=2 on ${n.name} with ${n3.name} dead: ${r.status} ${r.text}`);
        assert.equal(r.text, `old-${k}`);
      }
    }

    // writes with w=2: the dead node's replica goes to a fallback vnode on a surviving node
    const fresh = pickKeys(owners, 'kb', 'new', 8, onN3);
    const fallbacksBefore = await metricOn([n1, n2], 'rkv_fallback_writes_total');
    for (const [i, k] of fresh.entries()) await mustPut(i % 2 ? n2 : n1, 'kb', k, `new-${k}`, 'w=2');
    const fallbacksAfter = await metricOn([n1, n2], 'rkv_fallback_writes_total');
    assert.ok(fallbacksAfter >= fallbacksBefore + fresh.length, `fallback writes ${fallbacksBefore} -> ${fallbacksAfter} for ${fresh.length} writes`);
    for (const k of fresh) for (const n of [n1, n2]) assert.equal((await getObj(n, 'kb', k, 'r=2')).text, `new-${k}`);
    // the fallback copies are real: r=3 (two primaries and the fallback) answers too
    for (const k of fresh) assert.equal((await getObj(n1, 'kb', k, 'r=3')).text, `new-${k}`);

    // pw=3 / pr=3 cannot be met: 503 with how many primaries are reachable
    const quorumFailsBefore = await metricOn([n1, n2], 'rkv_quorum_failures_total');
    let failures = 0;
    for (const [i, k] of [...old, ...fresh].entries()) {
      const reachable = primaries(owners, 'kb', k).filter((r) => r.owner !== n3.name).length;
      const n = i % 2 ? n1 : n2;
      const w = await putObj(n, 'kb', k, 'pw3', 'pw=3');
      assert.equal(w.status, 503, `PUT kb/${k}?pw=3 on ${n.name}: ${w.status} ${w.text}`);
      const werr = JSON.parse(w.text) as { error: string; message: string };
      assert.equal(werr.error, 'unavailable');
      assert.match(werr.message, new RegExp(`^pw=3 unsatisfied: ${reachable} primaries reachable, 0 acknowledged`));
      const r = await getObj(n, 'kb', k, 'pr=3');
      assert.equal(r.status, 503, `GET kb/${k}?pr=3 on ${n.name}: ${r.status} ${r.text}`);
      const rerr = JSON.parse(r.text) as { error: string; message: string };
      assert.equal(rerr.error, 'unavailable');
      assert.match(rerr.message, new RegExp(`^pr=3 unsatisfied: ${reachable} primaries reachable, 0 answered`));
      failures += 2;
    }
    assert.equal(await metricOn([n1, n2], 'rkv_quorum_failures_total'), quorumFailsBefore + failures);
    // a refused pw=3 write changed nothing
    for (const k of fresh) assert.equal((await getObj(n1, 'kb', k, 'r=2')).text, `new-${k}`);
    // pr=2 / pw=2 are still possible
    assert.equal((await putObj(n2, 'kb', fresh[0]!, `new-${fresh[0]}`, 'pw=2&w=2')).status, 204);
    assert.equal((await getObj(n1, 'kb', fresh[0]!, 'pr=2')).status, 200);

    // RESP: the bucket defaults (props of "default") with pw=3, then pr=3
    const respKey = pickKeys(owners, 'default', 'rk', 1, onN3)[0]!;
    const respReachable = primaries(owners, 'default', respKey).filter((r) => r.owner !== n3.name).length;
    const c = n1.redis();
    try {
      await c.connect();
      assert.equal(await c.set(respKey, 'resp-value'), 'OK', 'w=quorum works with a node down');
      await setProps(n2, 'default', { pw: 3 });
      await waitProps([n1, n2], 'default', { pw: 3 });
      await assert.rejects(c.set(respKey, 'nope'), (e: Error) => {
        assert.match(e.message, new RegExp(`^UNAVAILABLE pw=3 unsatisfied: ${respReachable} primaries reachable`));
        return true;
      });
      await setProps(n2, 'default', { pw: 0, pr: 3 });
      await waitProps([n1, n2], 'default', { pw: 0, pr: 3 });
      await assert.rejects(c.get(respKey), (e: Error) => {
        assert.match(e.message, new RegExp(`^UNAVAILABLE pr=3 unsatisfied: ${respReachable} primaries reachable`));
        return true;
      });
      await setProps(n2, 'default', { pr: 0 });
      await waitProps([n1, n2], 'default', { pr: 0 });
      assert.equal(await c.get(respKey), 'resp-value', 'the refused SET wrote nothing');
    } finally {
      c.disconnect();
    }

    // the fallbacks' data waits for its owner: `rkv admin transfers` lists hinted handoffs to the dead node
    const waiting = await n1.cli<Transfers>('transfers');
    const hintedRows = [...waiting.active, ...waiting.pending].filter((t) => t.type === 'hinted' && t.to === n3.name);
    assert.ok(hintedRows.length > 0, `hinted handoffs to ${n3.name} listed: ${JSON.stringify(waiting)}`);
    for (const t of hintedRows) assert.equal(owners[t.partition], n3.name, `hinted partition ${t.partition} belongs to ${n3.name}`);
    const fallbackNodes = [...new Set(hintedRows.map((t) => t.from))];
    const hintedOkBefore = await metricOn(nodes.filter((n) => fallbackNodes.includes(n.name)), 'rkv_handoffs_total', { type: 'hinted', outcome: 'ok' });

    await n3.start();
    await waitSeen([n1, n2], n3, true);
    await waitFor('hinted handoffs to finish', async (seen) => {
      const ok = await metricOn(nodes.filter((n) => fallbackNodes.includes(n.name)), 'rkv_handoffs_total', { type: 'hinted', outcome: 'ok' });
      seen({ ok, hintedOkBefore, partitions: hintedRows.length });
      return ok >= hintedOkBefore + hintedRows.length ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    await waitNoTransfers(nodes);

    // the fallbacks dropped the data, the owner holds it
    for (const n of nodes) assert.deepEqual(await strayVnodes(n), [], `${n.name} still holds data for partitions it does not own\n${logs(nodes)}`);
    const n3After = await entriesByPartition(n3);
    const written = n3Partitions('default', [respKey], n3Partitions('kb', fresh));
    for (const [p, count] of written) {
      assert.equal(n3After.get(p)?.entries, (n3Before.get(p)?.entries ?? 0) + count, `partition ${p} on ${n3.name}: the ${count} keys written while it was down`);
    }
    for (const k of [...old, ...fresh]) for (const n of nodes) assert.equal((await getObj(n, 'kb', k, 'r=3&pr=3')).status, 200);
  });

  it('read repair: a replica that missed writes gets them from the next r=3 read', async () => {
    const keys = pickKeys(owners, 'rr', 'rr', 5, onN3);
    const n3Before = await entriesByPartition(n3);
    assert.equal(await n3.stop(), 0);
    await waitSeen([n1, n2], n3, false);
    for (const k of keys) await mustPut(n1, 'rr', k, `rr-${k}`, 'w=2');
    // hold back hinted handoff so only read repair can bring the writes to n3
    await setTransferLimit(n1, 0);
    await setTransferLimit(n2, 0);
    try {
      await n3.start();
      await waitSeen([n1, n2], n3, true);
      const missed = await entriesByPartition(n3);
      for (const [p, e] of n3Before) assert.equal(missed.get(p)?.entries, e.entries, `partition ${p} on ${n3.name} unchanged: it missed the writes`);

      const repairsBefore = await metric(n1, 'rkv_read_repairs_total');
      for (const k of keys) {
        const r = await getObj(n1, 'rr', k, 'r=3');
        assert.equal(r.status, 200, `GET rr/${k}?r=3: ${r.status} ${r.text}`);
        assert.equal(r.text, `rr-${k}`);
      }
      const want = n3Partitions('rr', keys);
      const expectedRepairs = [...want.values()].reduce((a, b) => a + b, 0);
      await waitFor('read repairs to reach n3', async (seen) => {
        const repairs = await metric(n1, 'rkv_read_repairs_total');
        const now = await entriesByPartition(n3);
        const got = Object.fromEntries([...want.keys()].map((p) => [p, (now.get(p)?.entries ?? 0) - (n3Before.get(p)?.entries ?? 0)]));
        seen({ repairs, repairsBefore, got, want: Object.fromEntries(want) });
        return repairs >= repairsBefore + expectedRepairs && [...want].every(([p, c]) => got[p] === c) ? true : undefined;
      }, { timeoutMs: 10_000, intervalMs: 200 });
      // a second read finds every replica in agreement: no more repairs
      const repairsAfter = await metric(n1, 'rkv_read_repairs_total');
      for (const k of keys) assert.equal((await getObj(n2, 'rr', k, 'r=3')).text, `rr-${k}`);
      for (const k of keys) assert.equal((await getObj(n1, 'rr', k, 'r=3')).text, `rr-${k}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await metric(n1, 'rkv_read_repairs_total'), repairsAfter, 'replicas agree after the repair');
    } finally {
      await setTransferLimit(n1, 2);
      await setTransferLimit(n2, 2);
    }
    await waitNoTransfers(nodes);
    await noStrayVnodes(nodes);
  });

  it('delete with a replica down: tombstone kept (not reaped) while a primary lacks it; the stale replica does not resurrect the key; reaped once all primaries hold it', async () => {
    const key = pickKeys(owners, 'dz', 'dz', 1, (reps) => reps.filter((r) => r.owner === n3.name).length === 1)[0]!;
    const reps = primaries(owners, 'dz', key);
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const entriesOf = async () => Promise.all(reps.map(async (r) => (await entriesByPartition(byName.get(r.owner)!)).get(r.partition)?.entries ?? 0));
    const base = await entriesOf();
    await mustPut(n1, 'dz', key, 'stale-value', 'w=3');
    assert.deepEqual(await entriesOf(), base.map((e) => e + 1));
    assert.equal(await n3.stop(), 0);
    await waitSeen([n1, n2], n3, false);

    const keptBefore = await metric(n1, 'rkv_tombstone_reaps_total', { outcome: 'kept' });
    const reapedBefore = await metricOn([n1, n2], 'rkv_tombstone_reaps_total', { outcome: 'reaped' });
    assert.equal((await delObj(n1, 'dz', key, 'w=2')).status, 204);
    for (const n of [n1, n2]) assert.equal((await getObj(n, 'dz', key, 'r=2')).status, 404);
    await waitFor('the reap attempt to keep the tombstone', async (seen) => {
      const kept = await metric(n1, 'rkv_tombstone_reaps_total', { outcome: 'kept' });
      seen({ kept, keptBefore });
      return kept >= keptBefore + 1 ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 250 });
    assert.equal(await metricOn([n1, n2], 'rkv_tombstone_reaps_total', { outcome: 'reaped' }), reapedBefore, 'not reaped with a primary down');

    // the stale replica comes back without hinted handoff: reads must still say deleted
    await setTransferLimit(n1, 0);
    await setTransferLimit(n2, 0);
    try {
      await n3.start();
      await waitSeen([n1, n2], n3, true);
      await waitSeen([n3], n1, true);
      await waitSeen([n3], n2, true);
      for (const n of [n3, n1, n2, n3]) {
        const r = await getObj(n, 'dz', key, 'r=all');
        assert.equal(r.status, 404, `GET dz/${key}?r=all on ${n.name} after the stale replica returned: ${r.status} ${r.text}`);
      }
      const c = n3.redis();
      try {
        await c.connect();
        assert.equal(await c.exists(key), 0);
      } finally {
        c.disconnect();
      }
    } finally {
      await setTransferLimit(n1, 2);
      await setTransferLimit(n2, 2);
    }
    await waitNoTransfers(nodes);
    for (const n of nodes) assert.equal((await getObj(n, 'dz', key, 'r=all')).status, 404);

    // every primary holds the tombstone now: it is reaped, and no replica keeps an entry for the key
    await waitFor('the tombstone to be reaped once all primaries hold it', async (seen) => {
      const reaped = await metricOn(nodes, 'rkv_tombstone_reaps_total', { outcome: 'reaped' });
      // a read is what notices a tombstone that every primary now holds (riak's get fsm does the same)
      const r = await getObj(n2, 'dz', key, 'r=all');
      const entries = await entriesOf();
      seen({ reaped, reapedBefore, status: r.status, entries, base });
      return reaped >= reapedBefore + 1 && entries.every((e, i) => e === base[i]) ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 500 });
    for (const n of nodes) assert.equal((await getObj(n, 'dz', key, 'r=all')).status, 404);
    await noStrayVnodes(nodes);
  });

  it('a deleted key does not come back from a fallback: the tombstone outlives the fallback copy that hinted handoff brings home', async () => {
    const key = pickKeys(owners, 'dh', 'dh', 1, (reps) => reps.filter((r) => r.owner === n3.name).length === 1)[0]!;
    const reps = primaries(owners, 'dh', key);
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const entriesOf = async () => Promise.all(reps.map(async (r) => (await entriesByPartition(byName.get(r.owner)!)).get(r.partition)?.entries ?? 0));
    const base = await entriesOf();
    assert.equal(await n3.stop(), 0);
    await waitSeen([n1, n2], n3, false);
    // written while n3 is down: a fallback on n1 or n2 holds n3's copy
    await mustPut(n1, 'dh', key, 'old', 'w=3');
    await setTransferLimit(n1, 0);
    await setTransferLimit(n2, 0);
    try {
      await n3.start();
      await waitSeen([n1, n2], n3, true);
      await waitSeen([n3], n1, true);
      await waitSeen([n3], n2, true);
      // deleted with every primary up, while the fallback copy is still waiting for its handoff
      const keptBefore = await metric(n2, 'rkv_tombstone_reaps_total', { outcome: 'kept' });
      const attemptsBefore = await reapAttempts(n2);
      assert.equal((await delObj(n2, 'dh', key, 'w=3')).status, 204);
      for (const n of nodes) assert.equal((await getObj(n, 'dh', key, 'r=all')).status, 404);
      await waitReapAttempts(n2, attemptsBefore + 1);
      assert.ok((await metric(n2, 'rkv_tombstone_reaps_total', { outcome: 'kept' })) >= keptBefore + 1, 'the tombstone is kept while a fallback holds an older copy');
    } finally {
      await setTransferLimit(n1, 2);
      await setTransferLimit(n2, 2);
    }
    await waitNoTransfers(nodes);
    for (const n of nodes) {
      const r = await getObj(n, 'dh', key, 'r=all');
      assert.equal(r.status, 404, `GET dh/${key}?r=all on ${n.name} after the fallback's hinted handoff: ${r.status} ${r.text}`);
    }
    // with the fallback copy home, a read reaps the tombstone from every replica
    const reapedBefore = await metricOn(nodes, 'rkv_tombstone_reaps_total', { outcome: 'reaped' });
    await waitFor('the tombstone reaped from every replica', async (seen) => {
      assert.equal((await getObj(n1, 'dh', key, 'r=all')).status, 404);
      const reaped = await metricOn(nodes, 'rkv_tombstone_reaps_total', { outcome: 'reaped' });
      const entries = await entriesOf();
      seen({ reaped, reapedBefore, entries, base });
      return reaped > reapedBefore && entries.every((e, i) => e === base[i]) ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 500 });
    await noStrayVnodes(nodes);
    for (const n of nodes) assert.equal((await getObj(n, 'dh', key, 'r=all')).status, 404);
  });

  it('a node paused (SIGSTOP) during a w=2 write burst, then resumed: every acknowledged write is readable with r=all', async (t) => {
    // writes go on until shortly after the resume (at most `cap`), so the burst spans pause and resume
    const cap = 400;
    let resumedAt = Infinity;
    const acked = new Map<string, string>();
    const failed: string[] = [];
    let next = 0;
    let paused: { from: number; to: number } | undefined;
    let ackedWhilePaused = 0;
    const deadline = Date.now() + 20_000;
    const worker = async (w: number) => {
      while (next < cap && Date.now() < deadline && Date.now() < resumedAt + 500) {
        const i = next++;
        const key = `burst${i}`;
        const value = `v${i}-${w}`;
        const via = i % 2 ? n2 : n1;
        const r = await putObj(via, 'burst', key, value, 'w=2').catch((e: Error) => ({ status: 0, text: e.message }));
        if (r.status === 204) {
          acked.set(key, value);
          if (paused && Date.now() < paused.to) ackedWhilePaused++;
        } else {
          failed.push(`${key} via ${via.name}: ${r.status} ${r.text.slice(0, 200)}`);
        }
      }
    };
    const pid = n3.child!.pid!;
    const pauser = (async () => {
      await waitFor('some writes before the pause', async () => (acked.size >= 20 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
      process.kill(pid, 'SIGSTOP');
      paused = { from: Date.now(), to: Date.now() + 3000 };
      try {
        await new Promise((r) => setTimeout(r, 3000));
      } finally {
        process.kill(pid, 'SIGCONT');
        resumedAt = Date.now();
      }
    })();
    try {
      await Promise.all([pauser, ...Array.from({ length: 8 }, (_, w) => worker(w))]);
    } finally {
      if (n3.running) process.kill(pid, 'SIGCONT');
    }
    t.diagnostic(`${acked.size} of ${next} writes acknowledged, ${ackedWhilePaused} while paused, ${failed.length} failed`);
    assert.ok(paused, 'the node was paused');
    assert.ok(ackedWhilePaused > 0, `w=2 writes were acknowledged while ${n3.name} was paused (failures: ${failed.slice(0, 5).join('; ')})`);
    assert.ok(acked.size >= next / 2, `${acked.size} of ${next} writes acknowledged; failures: ${failed.slice(0, 5).join('; ')}`);

    await waitSeen([n1, n2], n3, true);
    await waitNoTransfers(nodes, 40_000);
    const lost: string[] = [];
    for (const n of nodes) {
      for (const [key, value] of acked) {
        const r = await getObj(n, 'burst', key, 'r=all');
        if (r.status !== 200 || r.text !== value) lost.push(`${key} on ${n.name}: ${r.status} ${r.text.slice(0, 80)} (want ${value})`);
      }
    }
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged writes not readable with r=all`);
  });
});

/** Fallback copies are dropped once their hinted handoff completes; that is the end state every test waits for. */
async function noStrayVnodes(nodes: TestNode[]): Promise<void> {
  await waitFor('fallbacks to have handed everything back', async (seen) => {
    const stray = Object.fromEntries(await Promise.all(nodes.map(async (n) => [n.name, await strayVnodes(n)] as const)));
    seen(stray);
    return Object.values(stray).every((s) => s.length === 0) ? true : undefined;
  }, { timeoutMs: 15_000, intervalMs: 200 });
}
