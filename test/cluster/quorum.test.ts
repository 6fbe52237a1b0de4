/**
 * Quorum I/O on a healthy three-node cluster of real `rkv start` processes
 * (ring 16, n_val 3): w=3/r=3 round trips through every node, RESP through
 * the same coordinators, siblings with allow_mult=true resolved by a write
 * carrying the merged context, last-write-wins that never lets a write lose
 * to one it causally follows, and deletes whose tombstones are reaped once
 * every primary holds them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type TestNode } from './helpers.js';
import { delObj, entriesByPartition, getObj, metric, mustPut, parseMultipart, primaries, putObj, ringOwners, setProps, reapAttempts, startCluster, waitProps, waitReapAttempts } from './quorum_helpers.js';

describe('quorum I/O on a healthy 3-node cluster', { timeout: 90_000 }, () => {
  let nodes: TestNode[] = [];
  let owners: string[] = [];
  let respDelReaps = 0;
  before(async () => {
    nodes = await startCluster(1, { backend: 'rocksdb' });
    owners = await ringOwners(nodes);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('PUT ?w=3 on one node, GET ?r=3 from every node returns it, with a vclock', async () => {
    for (const [i, writer] of nodes.entries()) {
      const key = `k${i}`;
      const put = await mustPut(writer, 'b', key, `value-${i}`, 'w=3');
      assert.ok(put.headers.get('x-riak-vclock'), 'PUT answers with the new vclock');
      for (const reader of nodes) {
        const r = await getObj(reader, 'b', key, 'r=3');
        assert.equal(r.status, 200, `GET b/${key}?r=3 on ${reader.name}: ${r.status} ${r.text}`);
        assert.equal(r.text, `value-${i}`);
        assert.equal(r.headers.get('content-type'), 'text/plain');
        assert.equal(r.headers.get('x-riak-vclock'), put.headers.get('x-riak-vclock'), 'every node reads the clock the write produced');
      }
    }
    // r=all / w=all are accepted spellings; a quorum above n_val is a 400
    assert.equal((await putObj(nodes[0]!, 'b', 'kall', 'x', 'w=all')).status, 204);
    assert.equal((await getObj(nodes[2]!, 'b', 'kall', 'r=all&pr=all')).text, 'x');
    const bad = await getObj(nodes[0]!, 'b', 'kall', 'r=4');
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /r=4 is larger than n_val=3/);
    // a key nobody wrote is a 404 at any quorum
    assert.equal((await getObj(nodes[1]!, 'b', 'never-written', 'r=3')).status, 404);
  });

  it('RESP SET/GET/DEL go through the coordinators with the bucket defaults', async () => {
    const clients = nodes.map((n) => n.redis());
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const putsBefore = await Promise.all(nodes.map((n) => metric(n, 'rkv_coordinator_duration_seconds_count', { op: 'put' })));
      for (const [i, c] of clients.entries()) assert.equal(await c.set(`resp${i}`, `rv${i}`), 'OK');
      for (const [i, n] of nodes.entries()) {
        const after = await metric(n, 'rkv_coordinator_duration_seconds_count', { op: 'put' });
        assert.ok(after >= putsBefore[i]! + 1, `${n.name} coordinated its SET (put coordinations ${putsBefore[i]} -> ${after})`);
      }
      for (const [i] of nodes.entries()) {
        for (const c of clients) assert.equal(await c.get(`resp${i}`), `rv${i}`);
        // the RESP keys live in the bucket "default", with n_val 3 replicas: r=3 finds them over HTTP
        for (const n of nodes) assert.equal((await getObj(n, 'default', `resp${i}`, 'r=3')).text, `rv${i}`);
      }
      // SET replaces (no siblings for RESP clients), from any node
      assert.equal(await clients[1]!.set('resp0', 'replaced'), 'OK');
      for (const c of clients) assert.equal(await c.get('resp0'), 'replaced');
      respDelReaps = (await reapAttempts(nodes[2]!)) + 1;
      assert.equal(await clients[2]!.del('resp0'), 1);
      for (const c of clients) assert.equal(await c.get('resp0'), null);
      assert.deepEqual(await clients[0]!.mget('resp1', 'resp2', 'resp0'), ['rv1', 'rv2', null]);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('allow_mult=true: two writes with the same context from different nodes are siblings (300 multipart); the merged context resolves them everywhere', async () => {
    await setProps(nodes[0]!, 'sib', { allow_mult: true });
    await waitProps(nodes, 'sib', { allow_mult: true });
    await mustPut(nodes[0]!, 'sib', 'k', 'original', 'w=3');
    const read = await getObj(nodes[0]!, 'sib', 'k', 'r=3');
    assert.equal(read.status, 200);
    const ctx = read.headers.get('x-riak-vclock')!;
    assert.ok(ctx);

    // two clients, two coordinators, both superseding "original" with the same context
    await mustPut(nodes[1]!, 'sib', 'k', 'from-n2', 'w=3', ctx);
    await mustPut(nodes[2]!, 'sib', 'k', 'from-n3', 'w=3', ctx);

    let merged = '';
    for (const n of nodes) {
      const r = await getObj(n, 'sib', 'k', 'r=3', { accept: 'multipart/mixed' });
      assert.equal(r.status, 300, `GET sib/k on ${n.name}: ${r.status} ${r.text}`);
      const parts = parseMultipart(r.headers.get('content-type'), r.body);
      assert.deepEqual(parts.map((p) => p.value).sort(), ['from-n2', 'from-n3'], 'both writes kept, "original" superseded by both');
      for (const p of parts) assert.equal(p.headers['content-type'], 'text/plain');
      assert.equal(new Set(parts.map((p) => p.headers['etag'])).size, 2, 'each sibling has its own vtag');
      merged ||= r.headers.get('x-riak-vclock')!;
      assert.equal(r.headers.get('x-riak-vclock'), merged, 'every node has the same merged clock');
      // without multipart the 300 lists the vtags
      const plain = await getObj(n, 'sib', 'k', 'r=3');
      assert.equal(plain.status, 300);
      assert.match(plain.text, /^Siblings:\n.+\n.+\n$/);
    }
    assert.notEqual(merged, ctx);

    // a write carrying the merged context supersedes both siblings
    await mustPut(nodes[0]!, 'sib', 'k', 'resolved', 'w=3', merged);
    for (const n of nodes) {
      const r = await getObj(n, 'sib', 'k', 'r=3', { accept: 'multipart/mixed' });
      assert.equal(r.status, 200, `after resolving, ${n.name}: ${r.status} ${r.text}`);
      assert.equal(r.text, 'resolved');
    }

    // a write with the stale (pre-sibling) context is concurrent with "resolved": a sibling, not a loss
    await mustPut(nodes[1]!, 'sib', 'k', 'late', 'w=3', ctx);
    const r = await getObj(nodes[2]!, 'sib', 'k', 'r=3', { accept: 'multipart/mixed' });
    assert.equal(r.status, 300);
    assert.deepEqual(parseMultipart(r.headers.get('content-type'), r.body).map((p) => p.value).sort(), ['late', 'resolved']);
  });

  it('allow_mult=false: one value; a write carrying the context of another supersedes it on every node; concurrent writes: the last one wins', async () => {
    const bprops = JSON.parse((await (await fetch(`${nodes[1]!.url}/buckets/lww/props`)).text())) as { props: { allow_mult: boolean } };
    assert.equal(bprops.props.allow_mult, false, 'allow_mult defaults to false');

    // causal: A, then B written with A's context from another node
    await mustPut(nodes[0]!, 'lww', 'causal', 'A', 'w=3');
    const a = await getObj(nodes[2]!, 'lww', 'causal', 'r=3');
    assert.equal(a.text, 'A');
    await mustPut(nodes[1]!, 'lww', 'causal', 'B', 'w=3', a.headers.get('x-riak-vclock')!);
    for (const n of nodes) {
      const r = await getObj(n, 'lww', 'causal', 'r=3', { accept: 'multipart/mixed' });
      assert.equal(r.status, 200, `${n.name}: ${r.status}`);
      assert.equal(r.text, 'B', `${n.name} returns the causally later write`);
    }
    // the other way round: B's context carried by a write from the first node; C wins over B
    const b = await getObj(nodes[0]!, 'lww', 'causal', 'r=3');
    await mustPut(nodes[2]!, 'lww', 'causal', 'C', 'w=2', b.headers.get('x-riak-vclock')!);
    for (const n of nodes) assert.equal((await getObj(n, 'lww', 'causal', 'r=3')).text, 'C');

    // concurrent (no context) writes from different nodes: never siblings, the later one wins
    await mustPut(nodes[0]!, 'lww', 'concurrent', 'first', 'w=3');
    await new Promise((r) => setTimeout(r, 20));
    await mustPut(nodes[1]!, 'lww', 'concurrent', 'second', 'w=3');
    for (const n of nodes) {
      const r = await getObj(n, 'lww', 'concurrent', 'r=3', { accept: 'multipart/mixed' });
      assert.equal(r.status, 200, `${n.name}: no siblings with allow_mult=false`);
      assert.equal(r.text, 'second');
    }
  });

  it('DELETE writes a tombstone: 404 from every node, reaped after ~3 s once all primaries hold it, and it stays deleted', async () => {
    const [n1, n2] = nodes as [TestNode, TestNode];
    const key = 'gone';
    await waitReapAttempts(nodes[2]!, respDelReaps); // the RESP DEL above: its reap must not change the counts below
    await mustPut(n1, 'del', key, 'doomed', 'w=3');
    const reps = primaries(owners, 'del', key);
    const byNode = new Map(nodes.map((n) => [n.name, n]));
    const entriesOf = async () => Promise.all(reps.map(async (r) => (await entriesByPartition(byNode.get(r.owner)!)).get(r.partition)?.entries ?? 0));
    const before = await entriesOf();
    for (const [i, e] of before.entries()) assert.ok(e >= 1, `replica ${reps[i]!.owner}/${reps[i]!.partition} holds the key`);

    const tombstonesBefore = await metric(n2, 'rkv_tombstones_written_total');
    const reapedBefore = await metric(n2, 'rkv_tombstone_reaps_total', { outcome: 'reaped' });
    const keptBefore = await metric(n2, 'rkv_tombstone_reaps_total', { outcome: 'kept' });
    const del = await delObj(n2, 'del', key);
    assert.equal(del.status, 204, del.text);
    assert.equal(await metric(n2, 'rkv_tombstones_written_total'), tombstonesBefore + 1);
    for (const n of nodes) {
      const r = await getObj(n, 'del', key, 'r=3');
      assert.equal(r.status, 404, `${n.name} after delete: ${r.status} ${r.text}`);
    }
    // the tombstone is an entry on each replica until it is reaped
    assert.deepEqual(await entriesOf(), before, 'tombstones replace the value on every replica');

    await waitFor('tombstone reaped', async (seen) => {
      const reaped = await metric(n2, 'rkv_tombstone_reaps_total', { outcome: 'reaped' });
      const entries = await entriesOf();
      seen({ reaped, entries, before });
      return reaped >= reapedBefore + 1 && entries.every((e, i) => e === before[i]! - 1) ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 250 });
    assert.equal(await metric(n2, 'rkv_tombstone_reaps_total', { outcome: 'kept' }), keptBefore, 'all primaries were up: nothing kept');
    for (const n of nodes) assert.equal((await getObj(n, 'del', key, 'r=3')).status, 404);

    // deleting an absent key is still a 204, and writing it again brings it back normally
    assert.equal((await delObj(n1, 'del', key)).status, 204);
    await mustPut(n1, 'del', key, 'reborn', 'w=3');
    for (const n of nodes) assert.equal((await getObj(n, 'del', key, 'r=3')).text, 'reborn');
  });
});
