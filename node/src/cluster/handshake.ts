import { createHmac, timingSafeEqual } from 'node:crypto';
import { PROTOCOL_VERSION, type AuthMsg, type Envelope, type HandshakeMsg, type HelloMsg, type RefuseMsg, type RefuseReason } from './messages.js';

/**
 * Connection handshake as a pure state machine: the caller feeds parsed
 * envelopes and performs the returned sends, so every branch is testable
 * without sockets. Nonces are passed in (the transport draws them from its
 * injected random source).
 *
 *   connector                          acceptor
 *   hello{nonceC, secured} ----------->
 *                          <----------- hello{nonceA, secured}   (nonceA is the challenge)
 *   -- when a secret is configured --
 *   auth{mac(connect)}     ----------->  verify
 *                          <----------- auth{mac(accept)}
 *   verify
 *
 * The acceptor proves last so an unauthenticated connector never gets a MAC
 * over anything, and the role label in the MAC stops a proof from being
 * reflected back as the other side's. The secret itself never crosses the wire.
 */

export interface HandshakeConfig {
  clusterName: string;
  nodeName: string;
  secret?: string;
}

export type Role = 'connect' | 'accept';

export type HandshakeState =
  | { phase: 'hello'; role: Role; nonce: Buffer; expectPeer?: string }
  | { phase: 'auth'; role: Role; nonce: Buffer; peerNonce: Buffer; peer: string };

export type HandshakeStep =
  | { kind: 'continue'; state: HandshakeState; send?: HandshakeMsg }
  /** handshake complete; `send` (if any) must go out before any other message */
  | { kind: 'done'; peer: string; send?: HandshakeMsg }
  /** we refuse: send the refusal, then close */
  | { kind: 'refuse'; reason: RefuseReason; detail: string; send: RefuseMsg }
  /** the peer refused us */
  | { kind: 'refused'; reason: RefuseReason; detail: string };

function hello(cfg: HandshakeConfig, nonce: Buffer): HelloMsg {
  return { t: 'hello', cluster: cfg.clusterName, version: PROTOCOL_VERSION, node: cfg.nodeName, nonce, secured: cfg.secret !== undefined };
}

export function startConnect(cfg: HandshakeConfig, nonce: Buffer, expectPeer?: string): { state: HandshakeState; send: HelloMsg } {
  return { state: { phase: 'hello', role: 'connect', nonce, expectPeer }, send: hello(cfg, nonce) };
}

export function startAccept(nonce: Buffer): HandshakeState {
  return { phase: 'hello', role: 'accept', nonce };
}

/** MAC binding the secret to this exchange; fields are length-prefixed so no two field lists hash alike. */
export function proof(secret: string, role: Role, cluster: string, connectNode: string, acceptNode: string, connectNonce: Buffer, acceptNonce: Buffer): Buffer {
  const h = createHmac('sha256', secret);
  for (const part of ['rkv-cluster-v1', role, cluster, connectNode, acceptNode, connectNonce, acceptNonce]) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(bytes.length, 0);
    h.update(len).update(bytes);
  }
  return h.digest();
}

function refuse(reason: RefuseReason, detail: string): HandshakeStep {
  return { kind: 'refuse', reason, detail, send: { t: 'refuse', reason, message: detail } };
}

function checkHello(cfg: HandshakeConfig, m: HelloMsg): HandshakeStep | undefined {
  if (m.version !== PROTOCOL_VERSION) return refuse('version_mismatch', `peer speaks protocol ${m.version}, this node ${PROTOCOL_VERSION}`);
  if (m.cluster !== cfg.clusterName) return refuse('cluster_mismatch', `peer ${m.node} is in cluster ${m.cluster}, this node in ${cfg.clusterName}`);
  if (cfg.secret !== undefined && !m.secured) return refuse('secret_required', `peer ${m.node} has no cluster secret configured`);
  if (cfg.secret === undefined && m.secured) return refuse('secret_required', `peer ${m.node} requires a cluster secret; none configured here`);
  return undefined;
}

function macFor(cfg: HandshakeConfig, s: Extract<HandshakeState, { phase: 'auth' }>, who: Role): Buffer {
  const [connectNode, acceptNode] = s.role === 'connect' ? [cfg.nodeName, s.peer] : [s.peer, cfg.nodeName];
  const [connectNonce, acceptNonce] = s.role === 'connect' ? [s.nonce, s.peerNonce] : [s.peerNonce, s.nonce];
  return proof(cfg.secret ?? '', who, cfg.clusterName, connectNode, acceptNode, connectNonce, acceptNonce);
}

export function handshakeStep(cfg: HandshakeConfig, state: HandshakeState, msg: Envelope): HandshakeStep {
  if (msg.t === 'refuse') return { kind: 'refused', reason: msg.reason, detail: msg.message };
  if (state.phase === 'hello') {
    if (msg.t !== 'hello') return refuse('malformed', `expected hello, got ${msg.t}`);
    const problem = checkHello(cfg, msg);
    if (problem) return problem;
    if (state.role === 'connect' && state.expectPeer !== undefined && msg.node !== state.expectPeer) {
      return refuse('wrong_node', `expected node ${state.expectPeer} at this address, found ${msg.node}`);
    }
    const reply = state.role === 'accept' ? hello(cfg, state.nonce) : undefined;
    if (cfg.secret === undefined) return { kind: 'done', peer: msg.node, send: reply };
    const next: HandshakeState = { phase: 'auth', role: state.role, nonce: state.nonce, peerNonce: msg.nonce, peer: msg.node };
    const send: HandshakeMsg = reply ?? { t: 'auth', mac: macFor(cfg, next, 'connect') };
    return { kind: 'continue', state: next, send };
  }
  if (msg.t !== 'auth') return refuse('malformed', `expected auth, got ${msg.t}`);
  const peerRole: Role = state.role === 'connect' ? 'accept' : 'connect';
  const expected = macFor(cfg, state, peerRole);
  if (msg.mac.length !== expected.length || !timingSafeEqual(msg.mac, expected)) {
    return refuse('bad_secret', `peer ${state.peer} did not prove the cluster secret`);
  }
  const send: AuthMsg | undefined = state.role === 'accept' ? { t: 'auth', mac: macFor(cfg, state, 'accept') } : undefined;
  return { kind: 'done', peer: state.peer, send };
}
