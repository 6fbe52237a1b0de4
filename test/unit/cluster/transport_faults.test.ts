import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { FrameDecoder, encodeFrame } from '../../../node/src/cluster/frame.js';
import { PROTOCOL_VERSION, parseEnvelope } from '../../../node/src/cluster/messages.js';
import type { PeerRef } from '../../../node/src/cluster/transport.js';
import { capture, rejectsWith, startNode, until, type TestNode } from './transport_helpers.js';

/** Writes raw bytes to a node's cluster port; resolves when the node closes the connection. */
function sendRaw(ref: PeerRef, bytes: Buffer): Promise<void> {
  const [host, port] = ref.address.split(':');
  return new Promise((resolve) => {
    const s = net.connect({ host: host!, port: Number(port) }, () => s.write(bytes));
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
}

/** A peer that completes the (secretless) handshake and then stops reading, like a stalled process. */
async function stalledPeer(name: string): Promise<{ ref: PeerRef; resume: () => void; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    const dec = new FrameDecoder();
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      for (const ev of dec.push(chunk)) {
        const m = ev.type === 'message' ? parseEnvelope(ev.value) : undefined;
        if (m?.ok && m.msg.t === 'hello') {
          s.write(encodeFrame({ t: 'hello', cluster: 'test', version: PROTOCOL_VERSION, node: name, nonce: Buffer.alloc(32), secured: false }));
          s.pause();
        }
        if (m?.ok && m.msg.t === 'req') s.write(encodeFrame({ t: 'res', id: m.msg.id, ok: true, body: 'late' }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    ref: { name, address: `127.0.0.1:${port}` },
    resume: () => sockets.forEach((s) => s.resume()),
    close: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('transport: faults', () => {
  const open: TestNode[] = [];
  const node = async (name: string, opts = {}, port = 0): Promise<TestNode> => {
    const n = await startNode(name, opts, port);
    open.push(n);
    return n;
  };
  after(() => Promise.all(open.map((n) => n.t.close())));

  it('fails fast with unreachable while a peer is down and reconnects when it is back', async () => {
    const a = await node('a');
    const b = await node('b');
    b.t.handle('ping', async () => 'pong');
    assert.equal(await a.t.request(b.ref, 'ping', null), 'pong');
    b.t.handle('hang', () => new Promise(() => undefined));
    const inFlight = rejectsWith(a.t.request(b.ref, 'hang', null, { timeoutMs: 60_000 }), 'unreachable');
    await new Promise((r) => setTimeout(r, 20));
    await b.t.close();
    await inFlight; // connection lost, not a 60 s wait
    await until(() => !a.t.isReachable('b'));
    const started = Date.now();
    await rejectsWith(a.t.request(b.ref, 'ping', null), 'unreachable');
    await rejectsWith(a.t.request(b.ref, 'ping', null), 'unreachable');
    assert.ok(Date.now() - started < 500, 'no waiting for a timeout');

    const port = Number(b.ref.address.split(':')[1]);
    const b2 = await node('b', {}, port);
    b2.t.handle('ping', async () => 'pong again');
    await until(() => a.t.isReachable('b')); // background redial with backoff, no request needed
    assert.equal(await a.t.request(b.ref, 'ping', null), 'pong again');
  });

  it('drops a connection sending garbage, logs its address, and keeps serving others', async () => {
    const { logger, lines } = capture();
    const a = await node('a');
    const b = await node('b', { logger });
    b.t.handle('ping', async () => 'pong');
    assert.equal(await a.t.request(b.ref, 'ping', null), 'pong');
    const lenPrefix = (payload: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, payload.length]), payload]);
    await sendRaw(b.ref, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])); // 4 GiB length prefix
    await sendRaw(b.ref, lenPrefix(Buffer.from([0xdd, 0, 0]))); // undecodable payload
    await sendRaw(b.ref, encodeFrame({ hello: 'world' })); // decodes, but not an envelope
    await sendRaw(b.ref, encodeFrame({ t: 'req', id: 1, kind: 'ping', body: null })); // skips the handshake
    assert.equal(b.t.stats.protocolErrors, 3);
    assert.equal(b.t.stats.handshakeFailures, 1);
    const warn = lines.map((l) => JSON.parse(l) as { msg: string; remote?: string });
    assert.ok(warn.filter((l) => l.msg.includes('protocol error') && l.remote?.startsWith('127.0.0.1:')).length === 3, lines.join('\n'));
    assert.equal(await a.t.request(b.ref, 'ping', null), 'pong', 'the legitimate connection is untouched');
    assert.equal(a.t.stats.connections, 1);
  });

  it('refuses a wrong cluster secret in both directions, and a missing one', async () => {
    const a = await node('a', { secret: 'alpha' });
    const b = await node('b', { secret: 'beta' });
    const c = await node('c', { secret: 'alpha' });
    const d = await node('d');
    for (const n of [a, b, c, d]) n.t.handle('ping', async () => n.ref.name);
    await rejectsWith(a.t.request(b.ref, 'ping', null), 'refused', 'bad_secret');
    await rejectsWith(b.t.request(a.ref, 'ping', null), 'refused', 'bad_secret');
    await rejectsWith(d.t.request(a.ref, 'ping', null), 'refused', 'secret_required');
    await rejectsWith(a.t.request(d.ref, 'ping', null), 'refused', 'secret_required');
    assert.ok(a.t.stats.handshakeFailures >= 2 && b.t.stats.handshakeFailures >= 2);
    assert.equal(await a.t.request(c.ref, 'ping', null), 'c');
    assert.equal(await c.t.request(a.ref, 'ping', null), 'a');
    await rejectsWith(a.t.request({ name: 'x', address: c.ref.address }, 'ping', null), 'refused', 'wrong_node');
  });

  it('rejects with backpressure instead of buffering when the peer stops reading, then drains', async () => {
    const peer = await stalledPeer('slow');
    const maxQueuedBytes = 1024 * 1024;
    const a = await node('a', { maxQueuedBytes });
    const body = Buffer.alloc(256 * 1024, 7);
    const accepted: Promise<unknown>[] = [];
    let rejected = 0;
    // the kernel's socket buffers absorb a few MB before the user-space queue grows; bound the loop well above that
    for (let i = 0; i < 400 && rejected === 0; i++) {
      const p = a.t.request(peer.ref, 'put', body, { timeoutMs: 30_000 });
      const early = await Promise.race([p.then(() => 'ok', (e: { code?: string }) => e.code), new Promise((r) => setTimeout(() => r('pending'), 5))]);
      if (early === 'backpressure') rejected++;
      else accepted.push(p.catch((e: unknown) => e));
    }
    assert.equal(rejected, 1, 'backpressure kicked in');
    assert.ok(accepted.length < 400);
    for (let i = 0; i < 10; i++) await rejectsWith(a.t.request(peer.ref, 'put', body), 'backpressure');
    const drained = a.t.drained(peer.ref);
    peer.resume();
    await drained;
    assert.equal(await a.t.request(peer.ref, 'put', 'small'), 'late');
    await peer.close();
  });
});
