/**
 * Faults around the cluster with real `rkv start` processes: a receiving node
 * killed -9 in the middle of an ownership handoff, garbage on the cluster
 * port, and a node with the wrong cluster secret trying to join.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { encodeFrame } from '../../node/src/cluster/frame.js';
import { HOST, joinAll, keyName, logs, missingKeys, rkvCli, sleep, startNodes, strayVnodes, TestNode, valueOf, waitConverged, waitFor, writeKeys, type Transfers } from './helpers.js';

/** 1-4 KiB, varied per key. */
const size = (i: number) => 1024 + ((i * 7919) % 3072);

describe('kill -9 of the receiving node mid-handoff', { timeout: 120_000 }, () => {
  let nodes: TestNode[] = [];
  // the background writer runs until told to stop: a failed assertion must stop it too, or it
  // retries against destroyed nodes forever and the test file never exits
  let stopWriter = (): Promise<void> => Promise.resolve();
  after(async () => {
    await stopWriter();
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('the handoff resumes after a restart and nothing is lost', async (t) => {
    nodes = await startNodes(1, 2, { backend: 'rocksdb' });
    const [n1, n2] = nodes as [TestNode, TestNode];
    const KEYS = 3000;
    await writeKeys(n1, 1, KEYS, size, 100);

    // writes keep coming through the sender for the whole test; every acknowledged one must survive
    const acked: number[] = [];
    let refused = 0;
    let writing = true;
    const writer = (async () => {
      const r = n1.redis();
      await r.connect();
      try {
        for (let i = 100_001; writing; i++) {
          const ok = await r.set(keyName(i), valueOf(i, 200)).catch(() => undefined);
          if (ok === 'OK') acked.push(i);
          else {
            refused++;
            await sleep(50);
          } // unavailable while the receiver is down: retry later with the next key
        }
      } finally {
        r.disconnect();
      }
    })();
    stopWriter = () => {
      writing = false;
      return writer;
    };

    // one handoff at a time, so there is a long stretch with one in progress
    await n1.api('PUT', '/admin/transfer-limit', { limit: 1 });
    await joinAll(n1, [n2]);
    // caught early, with partitions still queued behind it: a handoff of a few MiB takes only tens of
    // milliseconds here, so the last one could finish between this look and the kill
    const active = await waitFor('an active ownership handoff with data moving and more queued', async (seen) => {
      const t = await n1.api<Transfers>('GET', '/admin/transfers');
      seen(t);
      const queued = t.pending.filter((x) => x.type === 'ownership' && x.to === n2.name).length;
      return queued >= 3 ? t.active.find((x) => x.type === 'ownership' && x.to === n2.name && x.objects > 0) : undefined;
    }, { timeoutMs: 20_000, intervalMs: 5 });
    await n2.kill9();
    // the handoff fails on the sender and waits for a retry; the receiver is down
    const afterKill = await n1.api<Transfers>('GET', '/admin/transfers');
    const moving = [...afterKill.active, ...afterKill.pending].filter((x) => x.type === 'ownership');
    assert.ok(moving.length > 0, `transfers still to do after the kill (killed during partition ${active.partition} at ${active.objects} objects)`);
    assert.equal((await n1.memberStatus()).members.length, 2);

    await n2.start();
    await n1.api('PUT', '/admin/transfer-limit', { limit: 2 });
    await waitConverged(nodes, nodes.map((n) => n.name), { timeoutMs: 60_000 });
    await stopWriter();
    // the writes taken while n2 was down sit in fallback vnodes on n1 until hinted handoff moves them
    await waitConverged(nodes, nodes.map((n) => n.name), { timeoutMs: 30_000 });
    assert.ok(acked.length > 0, 'some writes were acknowledged during the handoff');
    t.diagnostic(`killed during partition ${active.partition} at ${active.objects} objects; ${acked.length} writes acknowledged, ${refused} refused meanwhile`);
    for (const n of nodes) {
      const r = n.redis();
      await r.connect();
      try {
        const got = await r.mget(...acked.map(keyName));
        const lost = acked.filter((i, x) => got[x] !== valueOf(i, 200));
        assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.length} acknowledged writes not readable from ${n.name}`);
      } finally {
        r.disconnect();
      }
    }
    for (const n of nodes) {
      const missing = await missingKeys(n, 1, KEYS, size, 200);
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} keys not readable from ${n.name}\n${logs(nodes)}`);
      assert.deepEqual(await strayVnodes(n), [], `${n.name} holds data it does not own`);
    }
  });
});

describe('garbage on the cluster port', { timeout: 60_000 }, () => {
  let nodes: TestNode[] = [];
  before(async () => {
    nodes = await startNodes(1, 2);
    await joinAll(nodes[0]!, [nodes[1]!]);
    await waitConverged(nodes, nodes.map((n) => n.name));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  /** Connects, writes `bytes`, resolves with how long the node took to close the connection. */
  function sendGarbage(port: number, bytes: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const s = net.connect(port, HOST, () => s.write(bytes));
      s.on('data', () => undefined); // a refusal frame may come first
      s.on('error', () => undefined); // a reset counts as closed
      s.on('close', () => resolve(Date.now() - started));
      s.setTimeout(15_000, () => {
        s.destroy();
        reject(new Error(`connection with ${bytes.length} garbage bytes still open after 15 s`));
      });
    });
  }

  it('drops each bad connection and keeps serving RESP, HTTP and its peers', async () => {
    const [n1, n2] = nodes as [TestNode, TestNode];
    const before = (await (await fetch(`${n1.url}/stats`)).json()) as { transport: { protocolErrors: number } };
    const payload = Buffer.from([0xc1, 0xc1, 0xc1, 0xc1, 0xc1]); // 0xc1 is never valid msgpack
    const cases: [string, Buffer][] = [
      ['oversized length prefix', Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])],
      ['undecodable payload', Buffer.concat([Buffer.from([0, 0, 0, payload.length]), payload])],
      ['msgpack that is no envelope', encodeFrame({ hello: 'world' })],
      ['a request before the handshake', encodeFrame({ t: 'req', id: 1, kind: 'ring_get', body: {} })],
      ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff))],
      ['a header and then silence', Buffer.from([0, 0, 0x10, 0, 1, 2])],
    ];
    const closed = await Promise.all(cases.map(([, bytes]) => sendGarbage(n1.ports.cluster, bytes)));
    cases.forEach(([what], i) => assert.ok(closed[i]! < 12_000, `${what}: closed after ${closed[i]} ms`));

    const after = (await (await fetch(`${n1.url}/stats`)).json()) as { transport: { protocolErrors: number } };
    assert.ok(after.transport.protocolErrors >= before.transport.protocolErrors + 3, `protocol errors ${before.transport.protocolErrors} -> ${after.transport.protocolErrors}`);
    assert.ok(n1.running, 'node 1 still runs');
    const r = n1.redis();
    try {
      await r.connect();
      assert.equal(await r.ping(), 'PONG');
      assert.equal(await r.set('after-garbage', 'ok'), 'OK');
    } finally {
      r.disconnect();
    }
    // cluster requests still flow both ways: n2 asks n1's vnodes, n1 asks n2 for its transfers
    const r2 = n2.redis();
    try {
      await r2.connect();
      assert.equal(await r2.get('after-garbage'), 'ok');
    } finally {
      r2.disconnect();
    }
    const t = await n1.api<Transfers>('GET', '/admin/transfers');
    assert.deepEqual(t.unreachable, []);
    assert.ok((await n1.memberStatus()).members.every((m) => m.reachable && m.status === 'valid'));
  });
});

describe('wrong cluster secret', { timeout: 60_000 }, () => {
  const nodes: TestNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('a join with the wrong secret (or none) is refused with a clear message, and logged on both sides', async () => {
    const a = await TestNode.create({ index: 1, secret: 'alpha-secret' });
    const b = await TestNode.create({ index: 2, secret: 'not-the-secret' });
    const c = await TestNode.create({ index: 3 });
    const d = await TestNode.create({ index: 4, secret: 'alpha-secret' });
    nodes.push(a, b, c, d);
    await Promise.all(nodes.map((n) => n.start()));

    const wrong = await rkvCli(['admin', '--url', b.url, 'cluster', 'join', a.contact]);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stderr, /^rkv admin: join refused by rkv1@127\.0\.0\.1:\d+ at 127\.0\.0\.1:\d+: wrong cluster secret/m);
    assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);

    const none = await rkvCli(['admin', '--url', c.url, 'cluster', 'join', a.contact]);
    assert.equal(none.code, 1, none.stdout);
    assert.match(none.stderr, /^rkv admin: join refused by .*: cluster secret mismatch/m);

    await waitFor('the refusals in the logs', async (seen) => {
      seen({ a: a.log.slice(-3000), b: b.log.slice(-3000) });
      return /refusing cluster connection/.test(a.log) && /bad_secret/.test(a.log) && /peer refused cluster connection/.test(b.log) ? true : undefined;
    }, { timeoutMs: 5000 });
    for (const n of [a, b, c]) assert.deepEqual((await n.memberStatus()).members.map((m) => m.name), [n.name]);

    // the right secret joins
    await joinAll(a, [d]);
    await waitConverged([a, d], [a.name, d.name]);
  });
});
