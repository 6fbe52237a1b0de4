import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Transport } from '../../../node/src/cluster/transport.js';
import { rejectsWith, silent, startNode, type TestNode } from './transport_helpers.js';

describe('transport: requests and replies', () => {
  const open: TestNode[] = [];
  const node = async (name: string, opts = {}): Promise<TestNode> => {
    const n = await startNode(name, opts);
    open.push(n);
    return n;
  };
  after(() => Promise.all(open.map((n) => n.t.close())));

  it('carries requests both ways, with the caller name and Buffers intact', async () => {
    const a = await node('a');
    const b = await node('b');
    for (const n of [a, b]) n.t.handle('echo', async (body, from) => ({ body, from, at: n.ref.name }));
    const bytes = Buffer.from([0, 1, 254, 255]);
    assert.deepEqual(await a.t.request(b.ref, 'echo', { bytes }), { body: { bytes }, from: 'a', at: 'b' });
    assert.deepEqual(await b.t.request(a.ref, 'echo', 'hi'), { body: 'hi', from: 'b', at: 'a' });
    const got = (await a.t.request(b.ref, 'echo', bytes)) as { body: unknown };
    assert.ok(Buffer.isBuffer(got.body));
    assert.ok(a.t.isReachable('b') && b.t.isReachable('a'));
    assert.equal(a.t.stats.connections, 2, 'one outbound and one inbound');
  });

  it('correlates 1000 concurrent requests whose replies come back out of order', async () => {
    const a = await node('a');
    const b = await node('b');
    b.t.handle('slow-echo', (body) => new Promise((r) => setTimeout(() => r(body), (body as number) % 7)));
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const replies = await Promise.all(ids.map((i) => a.t.request(b.ref, 'slow-echo', i)));
    assert.deepEqual(replies, ids);
    assert.equal(a.t.stats.requestsSent, 1000);
    assert.equal(b.t.stats.requestsReceived, 1000);
    assert.equal(a.t.stats.connections, 1, 'all over one reused connection');
  });

  it('turns handler errors into typed remote errors and unknown kinds into unknown_kind', async () => {
    const a = await node('a');
    const b = await node('b');
    b.t.handle('missing', async () => {
      throw Object.assign(new Error('no such key'), { code: 'not_found' });
    });
    b.t.handle('buggy', () => {
      throw new TypeError('oops'); // synchronous throw from a non-async handler
    });
    const e1 = await rejectsWith(a.t.request(b.ref, 'missing', null), 'remote', 'not_found');
    assert.equal(e1.remote?.message, 'no such key');
    await rejectsWith(a.t.request(b.ref, 'buggy', null), 'remote', 'internal');
    await rejectsWith(a.t.request(b.ref, 'nope', null), 'remote', 'unknown_kind');
    assert.equal(a.t.stats.requestsFailed, 3);
    b.t.handle('ok', async () => 'still fine');
    assert.equal(await a.t.request(b.ref, 'ok', null), 'still fine');
  });

  it('times out a request whose handler never answers, and ignores nothing else', async () => {
    const a = await node('a');
    const b = await node('b');
    b.t.handle('hang', () => new Promise(() => undefined));
    b.t.handle('ok', async () => 1);
    const started = Date.now();
    await rejectsWith(a.t.request(b.ref, 'hang', null, { timeoutMs: 100 }), 'timeout');
    assert.ok(Date.now() - started < 1000);
    assert.equal(await a.t.request(b.ref, 'ok', null), 1, 'the connection survives a timeout');
  });

  it('delivers casts with the sender name and counts casts to unreachable peers as dropped', async () => {
    const a = await node('a');
    const b = await node('b');
    const got = new Promise<unknown[]>((r) => b.t.onCast('gossip', (body, from) => r([body, from])));
    a.t.cast(b.ref, 'gossip', { ring: 3 });
    assert.deepEqual(await got, [{ ring: 3 }, 'a']);
    a.t.cast({ name: 'ghost', address: '127.0.0.1:1' }, 'gossip', {});
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.t.stats.castsSent, 1);
    assert.equal(a.t.stats.castsDropped, 1);
  });

  it('close() rejects pending requests with closed, and later requests too', async () => {
    const a = await node('a');
    const b = await node('b');
    b.t.handle('hang', () => new Promise(() => undefined));
    const pending = rejectsWith(a.t.request(b.ref, 'hang', null, { timeoutMs: 60_000 }), 'closed');
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await a.t.close();
    await pending;
    assert.ok(Date.now() - started < 1000);
    await rejectsWith(a.t.request(b.ref, 'hang', null), 'closed');
    assert.equal(a.t.stats.connections, 0);
  });

  it('reports a cluster port already in use in words', async () => {
    const a = await node('a');
    const port = Number(a.ref.address.split(':')[1]);
    const other = new Transport({ nodeName: 'x', clusterName: 'test', logger: silent });
    await assert.rejects(other.listen(port, '127.0.0.1'), { message: `port ${port} already in use (cluster listener on 127.0.0.1)` });
  });
});
