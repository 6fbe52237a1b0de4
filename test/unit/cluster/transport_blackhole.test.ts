import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { rejectsWith, startNode, until, type TestNode } from './transport_helpers.js';

/**
 * A TCP proxy whose existing connections can be turned into black holes: bytes
 * are swallowed in both directions and nothing is closed, as when a peer's
 * address disappears under a half-open connection (a container moved to another
 * network, a pod rescheduled with a new IP). New connections forward normally.
 */
async function blackholeProxy(target: string): Promise<{ address: string; accepted: () => number; swallow: () => void; close: () => Promise<void> }> {
  const [host, port] = target.split(':');
  const pairs: { a: Socket; b: Socket; dead: boolean }[] = [];
  const server = net.createServer((a) => {
    const b = net.connect({ host: host!, port: Number(port) });
    const pair = { a, b, dead: false };
    pairs.push(pair);
    a.on('data', (d) => void (pair.dead || b.write(d)));
    b.on('data', (d) => void (pair.dead || a.write(d)));
    for (const s of [a, b]) s.on('error', () => undefined);
    a.on('close', () => pair.dead || b.destroy());
    b.on('close', () => pair.dead || a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => pairs.length,
    swallow: () => pairs.forEach((p) => (p.dead = true)),
    close: () => {
      pairs.forEach((p) => (p.a.destroy(), p.b.destroy()));
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('transport: half-open connections', () => {
  const open: TestNode[] = [];
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    await Promise.all(open.map((n) => n.t.close()));
    await Promise.all(closers.map((c) => c()));
  });

  it('drops a connection that stays silent for a request timeout and redials', async () => {
    const a = await startNode('a', { requestTimeoutMs: 300 });
    const b = await startNode('b');
    open.push(a, b);
    b.t.handle('ping', async () => 'pong');
    const proxy = await blackholeProxy(b.ref.address);
    closers.push(proxy.close);
    const via = { name: 'b', address: proxy.address };
    assert.equal(await a.t.request(via, 'ping', null), 'pong');

    proxy.swallow();
    const started = Date.now();
    await rejectsWith(a.t.request(via, 'ping', null), 'timeout');
    assert.ok(Date.now() - started < 1000);
    // the dead connection is dropped and redialled: a new, working connection through the proxy answers
    await until(() => proxy.accepted() === 2 && a.t.isReachable('b'), 3000);
    assert.equal(await a.t.request(via, 'ping', null), 'pong');
  });

  it('keeps a silent connection when only a request with a shorter timeout expired', async () => {
    const a = await startNode('a', { requestTimeoutMs: 5000 });
    const b = await startNode('b');
    open.push(a, b);
    b.t.handle('hang', () => new Promise(() => undefined));
    b.t.handle('ok', async () => 1);
    await rejectsWith(a.t.request(b.ref, 'hang', null, { timeoutMs: 100 }), 'timeout');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(a.t.isReachable('b'), 'nothing dropped');
    assert.equal(a.t.stats.connections, 1);
    assert.equal(await a.t.request(b.ref, 'ok', null), 1);
  });
});
