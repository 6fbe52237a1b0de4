import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, encodeFrame } from '../../../node/src/cluster/frame.js';
import { PROTOCOL_VERSION, parseEnvelope, type Envelope, type HandshakeMsg } from '../../../node/src/cluster/messages.js';
import { handshakeStep, startAccept, startConnect, type HandshakeConfig, type HandshakeState, type HandshakeStep } from '../../../node/src/cluster/handshake.js';

const nonceA = Buffer.alloc(32, 0xaa);
const nonceB = Buffer.alloc(32, 0xbb);

// through the real codec and validator, so the test also covers the wire shape
function wire(m: HandshakeMsg): Envelope {
  const [ev] = new FrameDecoder().push(encodeFrame(m));
  assert.ok(ev?.type === 'message');
  const parsed = parseEnvelope(ev.value);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return parsed.msg;
}

type Outcome = { kind: 'done'; peer: string } | { kind: 'refuse' | 'refused'; reason: string } | { kind: 'pending' };

/** Runs both state machines against each other until neither has anything to send. */
function run(connector: HandshakeConfig, acceptor: HandshakeConfig, opts: { expectPeer?: string; tamper?: (m: HandshakeMsg) => HandshakeMsg } = {}): { c: Outcome; a: Outcome; sent: HandshakeMsg[] } {
  const tamper = opts.tamper ?? ((m) => m);
  const start = startConnect(connector, nonceA, opts.expectPeer);
  const sides = { c: { cfg: connector, state: start.state as HandshakeState | undefined, out: { kind: 'pending' } as Outcome }, a: { cfg: acceptor, state: startAccept(nonceB) as HandshakeState | undefined, out: { kind: 'pending' } as Outcome } };
  const sent: HandshakeMsg[] = [start.send];
  let inFlight: { to: 'a' | 'c'; msg: HandshakeMsg } | undefined = { to: 'a', msg: tamper(start.send) };
  while (inFlight) {
    const side = sides[inFlight.to];
    const from: 'a' | 'c' = inFlight.to === 'a' ? 'c' : 'a';
    if (!side.state) break;
    const step: HandshakeStep = handshakeStep(side.cfg, side.state, wire(inFlight.msg));
    inFlight = undefined;
    if (step.kind === 'continue') side.state = step.state;
    else {
      side.state = undefined;
      side.out = step.kind === 'done' ? { kind: 'done', peer: step.peer } : { kind: step.kind, reason: step.reason };
    }
    const send = step.kind === 'refused' ? undefined : step.send;
    if (send) {
      sent.push(send);
      inFlight = { to: from, msg: tamper(send) };
    }
  }
  return { c: sides.c.out, a: sides.a.out, sent };
}

const cfg = (nodeName: string, extra: Partial<HandshakeConfig> = {}): HandshakeConfig => ({ clusterName: 'prod', nodeName, ...extra });

describe('handshake', () => {
  it('completes without a secret, each side learning the other name', () => {
    const r = run(cfg('n1'), cfg('n2'), { expectPeer: 'n2' });
    assert.deepEqual(r.c, { kind: 'done', peer: 'n2' });
    assert.deepEqual(r.a, { kind: 'done', peer: 'n1' });
    assert.deepEqual(r.sent.map((m) => m.t), ['hello', 'hello']);
  });

  it('completes with a shared secret via mutual proofs that never contain the secret', () => {
    const secret = 'correct horse battery staple';
    const r = run(cfg('n1', { secret }), cfg('n2', { secret }));
    assert.deepEqual(r.c, { kind: 'done', peer: 'n2' });
    assert.deepEqual(r.a, { kind: 'done', peer: 'n1' });
    assert.deepEqual(r.sent.map((m) => m.t), ['hello', 'hello', 'auth', 'auth']);
    const onWire = Buffer.concat(r.sent.map((m) => encodeFrame(m)));
    assert.equal(onWire.indexOf(secret), -1);
    const [, , c1, a1] = r.sent;
    assert.ok(c1?.t === 'auth' && a1?.t === 'auth');
    assert.ok(!c1.mac.equals(a1.mac), 'the two proofs differ, so one cannot be reflected as the other');
    assert.deepEqual(run(cfg('n1', { secret }), cfg('n2', { secret })).sent, r.sent, 'deterministic given the nonces');
  });

  it('refuses a different cluster name', () => {
    const r = run(cfg('n1'), { clusterName: 'staging', nodeName: 'n2' });
    assert.deepEqual(r.a, { kind: 'refuse', reason: 'cluster_mismatch' });
    assert.deepEqual(r.c, { kind: 'refused', reason: 'cluster_mismatch' });
  });

  it('refuses another protocol version', () => {
    const r = run(cfg('n1'), cfg('n2'), { tamper: (m) => (m.t === 'hello' && m.node === 'n1' ? { ...m, version: PROTOCOL_VERSION + 1 } : m) });
    assert.deepEqual(r.a, { kind: 'refuse', reason: 'version_mismatch' });
    assert.deepEqual(r.c, { kind: 'refused', reason: 'version_mismatch' });
  });

  it('refuses a wrong secret on the acceptor, before the acceptor proves anything', () => {
    const r = run(cfg('n1', { secret: 'one' }), cfg('n2', { secret: 'two' }));
    assert.deepEqual(r.a, { kind: 'refuse', reason: 'bad_secret' });
    assert.deepEqual(r.c, { kind: 'refused', reason: 'bad_secret' });
    assert.equal(r.sent.filter((m) => m.t === 'auth').length, 1);
  });

  it('refuses when only one side has a secret, whichever side it is', () => {
    for (const [c, a] of [[cfg('n1'), cfg('n2', { secret: 's' })], [cfg('n1', { secret: 's' }), cfg('n2')]] as const) {
      const r = run(c, a);
      assert.deepEqual(r.a, { kind: 'refuse', reason: 'secret_required' });
      assert.deepEqual(r.c, { kind: 'refused', reason: 'secret_required' });
    }
  });

  it('the connector refuses a different node than the one it dialled', () => {
    const r = run(cfg('n1'), cfg('n3'), { expectPeer: 'n2' });
    assert.deepEqual(r.c, { kind: 'refuse', reason: 'wrong_node' });
    // without a secret the acceptor finished when it sent its hello; the transport handles the late refusal
    assert.deepEqual(r.a, { kind: 'done', peer: 'n1' });
    assert.deepEqual(r.sent.at(-1), { t: 'refuse', reason: 'wrong_node', message: 'expected node n2 at this address, found n3' });
    const secret = 's';
    const secured = run(cfg('n1', { secret }), cfg('n3', { secret }), { expectPeer: 'n2' });
    assert.deepEqual([secured.c, secured.a], [{ kind: 'refuse', reason: 'wrong_node' }, { kind: 'refused', reason: 'wrong_node' }]);
  });

  it('rejects a forged proof and out-of-order messages', () => {
    const secret = 's';
    const forged = run(cfg('n1', { secret }), cfg('n2', { secret }), { tamper: (m) => (m.t === 'auth' ? { t: 'auth', mac: Buffer.alloc(32) } : m) });
    assert.deepEqual(forged.a, { kind: 'refuse', reason: 'bad_secret' });
    const early = handshakeStep(cfg('n2'), startAccept(nonceB), { t: 'req', id: 1, kind: 'kv.get', body: null });
    assert.equal(early.kind, 'refuse');
    assert.ok(early.kind === 'refuse' && early.reason === 'malformed');
  });

  it('the envelope validator turns garbage into a reason, never a throw', () => {
    const garbage: unknown[] = [null, 1, 'x', [], Buffer.alloc(3), {}, { t: 'req' }, { t: 'req', id: -1, kind: 'k' }, { t: 'res', id: 1, ok: false, error: 'x' },
      { t: 'hello', cluster: 'c', version: 1, node: 'n', nonce: Buffer.alloc(3), secured: false }, { t: { toString: 5 } }, { t: 'refuse', reason: 'nope', message: '' }];
    for (const g of garbage) assert.equal(parseEnvelope(g).ok, false, JSON.stringify(g));
    assert.deepEqual(parseEnvelope({ t: 'res', id: 7, ok: false, error: { code: 'not_found', message: 'm' } }), { ok: true, msg: { t: 'res', id: 7, ok: false, error: { code: 'not_found', message: 'm' } } });
  });
});
