import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from './frame.js';
import { NONCE_BYTES, parseEnvelope, type Envelope, type RefuseMsg, type RefuseReason, type RemoteError, type ReqMsg, type ResMsg, type CastMsg } from './messages.js';
import { handshakeStep, startAccept, startConnect, type HandshakeConfig, type HandshakeState } from './handshake.js';

/**
 * The one node-to-node channel (ARCHITECTURE principle 2). Connections are one
 * per direction: this node's requests and casts to a peer go over the outbound
 * connection it opened (lazily, reused, reconnected with backoff); the peer's
 * requests arrive on the connection the peer opened, and replies travel back on
 * the connection that carried the request. That avoids deciding which of two
 * simultaneous dials wins, and a slow direction cannot stall the other.
 *
 * Errors are values (principle 6): a handler's throw becomes a typed error
 * reply, every request settles (reply, TransportError or timeout), and a peer
 * sending garbage loses its connection, never the process.
 */

export type TransportErrorCode = 'timeout' | 'unreachable' | 'closed' | 'refused' | 'remote' | 'backpressure' | 'encode';

export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    /** for 'remote': the peer's error; for 'refused': the handshake reason as code */
    readonly remote?: RemoteError,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface PeerRef {
  name: string;
  /** host:port or [v6]:port of the peer's cluster listener */
  address: string;
}

export interface TransportOptions {
  nodeName: string;
  clusterName: string;
  secret?: string;
  logger: Logger;
  requestTimeoutMs?: number;
  /** bound on TCP connect + handshake; defaults to requestTimeoutMs */
  connectTimeoutMs?: number;
  maxFrameBytes?: number;
  maxQueuedBytes?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  random?: (n: number) => Buffer;
}

export type RequestHandler = (body: unknown, from: string) => Promise<unknown>;
export type CastHandler = (body: unknown, from: string) => void | Promise<void>;

export interface TransportStats {
  /** open connections past the handshake, both directions (a gauge) */
  connections: number;
  requestsSent: number;
  requestsFailed: number;
  requestsReceived: number;
  castsSent: number;
  castsDropped: number;
  /** bad frames, undecodable payloads, malformed envelopes */
  protocolErrors: number;
  /** refused, refused-by-peer or timed-out handshakes */
  handshakeFailures: number;
}

interface Pending {
  id: number;
  conn?: Conn;
  /** conn.rxChunks when the request was written to conn */
  rxMark?: number;
  resolve: (v: unknown) => void;
  reject: (e: TransportError) => void;
  timer: NodeJS.Timeout;
}

interface Conn {
  socket: Socket;
  remote: string;
  decoder: FrameDecoder;
  hs?: HandshakeState; // cleared once the handshake is done
  hsTimer: NodeJS.Timeout;
  owner?: Peer; // set on outbound connections
  peer?: string;
  ready: boolean;
  dead: boolean;
  paused: boolean;
  pending: Map<number, Pending>;
  /** chunks received so far, and when the last one arrived (or the connection was opened) */
  rxChunks: number;
  lastRx: number;
  drainWaiters: (() => void)[];
  settle?: (err?: TransportError) => void;
  failure?: TransportError;
  error?: Error;
}

interface Peer {
  name: string;
  address: string;
  conn?: Conn;
  connecting?: Promise<Conn>;
  waitingBytes: number; // frames held while the connection is being set up
  backingOff: boolean;
  attempts: number;
  lastError?: TransportError;
  reachable: boolean;
  /** a dial failed or the connection dropped, and no dial has succeeded since */
  down: boolean;
  forgotten: boolean;
  timer?: NodeJS.Timeout;
}

const noop = (): void => undefined;

function parseAddress(a: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(a) ?? /^([^:[\]]+):(\d{1,5})$/.exec(a);
  const port = Number(m?.[2]);
  return m && port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}

function toRemoteError(e: unknown): RemoteError {
  const code = typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' && e.code.length > 0 ? e.code.slice(0, 128) : 'internal';
  const message = e instanceof Error ? e.message : typeof e === 'string' ? e : 'non-error thrown';
  return { code, message: message.slice(0, 4096) };
}

export class Transport {
  readonly stats: TransportStats = { connections: 0, requestsSent: 0, requestsFailed: 0, requestsReceived: 0, castsSent: 0, castsDropped: 0, protocolErrors: 0, handshakeFailures: 0 };
  private readonly log: Logger;
  private readonly hsCfg: HandshakeConfig;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: (n: number) => Buffer;
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly castHandlers = new Map<string, CastHandler>();
  private readonly peers = new Map<string, Peer>();
  private readonly conns = new Set<Conn>();
  private readonly inflight = new Set<Pending>();
  private server?: Server;
  private closing = false;
  private nextId = 0;

  constructor(opts: TransportOptions) {
    this.log = opts.logger.child({ component: 'transport' });
    this.hsCfg = { clusterName: opts.clusterName, nodeName: opts.nodeName, secret: opts.secret };
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? this.requestTimeoutMs;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.backoffBaseMs = opts.backoff?.baseMs ?? 100;
    this.backoffMaxMs = opts.backoff?.maxMs ?? 5000;
    this.random = opts.random ?? randomBytes;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    const server = net.createServer((s) => this.accept(s));
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(e.code === 'EADDRINUSE' ? new Error(`port ${port} already in use (cluster listener on ${host})`) : e);
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log.error({ err }, 'cluster listener error'));
        this.server = server;
        resolve(server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const p of this.peers.values()) clearTimeout(p.timer);
    const err = new TransportError('closed', 'transport closed');
    for (const p of [...this.inflight]) this.finish(p, err);
    const gone = [...this.conns].map((c) => new Promise((r) => c.socket.once('close', r)));
    for (const c of this.conns) c.socket.destroy();
    const server = this.server;
    if (server) gone.push(new Promise<void>((r) => server.close(() => r())));
    await Promise.all(gone);
  }

  handle(kind: string, fn: RequestHandler): void {
    if (this.handlers.has(kind)) throw new Error(`a handler for ${kind} is already registered`);
    this.handlers.set(kind, fn);
  }

  onCast(kind: string, fn: CastHandler): void {
    if (this.castHandlers.has(kind)) throw new Error(`a cast handler for ${kind} is already registered`);
    this.castHandlers.set(kind, fn);
  }

  /** Whether the last outbound connection attempt to `name` succeeded (false once it drops, until a reconnect). */
  isReachable(name: string): boolean {
    return this.peers.get(name)?.reachable ?? false;
  }

  /**
   * Known to be down: the last dial failed or the connection dropped, and no
   * dial has succeeded since. Unlike !isReachable, a peer this node has not
   * dialled yet (just started, just joined) is not down: treating it as down
   * would send every replica of a request to fallbacks on this node alone.
   */
  /** Changes whenever some peer becomes down or up again, so callers can cache what they derive from isDown. */
  downEpoch = 0;

  isDown(name: string): boolean {
    return this.peers.get(name)?.down ?? false;
  }

  /** Stops reconnecting to a peer (e.g. it left the cluster) and closes its outbound connection. */
  forget(name: string): void {
    const p = this.peers.get(name);
    if (!p) return;
    p.forgotten = true;
    if (p.down) this.downEpoch++;
    clearTimeout(p.timer);
    p.conn?.socket.destroy();
    this.peers.delete(name);
  }

  /** Resolves once the outbound queue to `peer` is back under maxQueuedBytes (or the connection is gone). */
  drained(peer: { name: string }): Promise<void> {
    const p = this.peers.get(peer.name);
    const c = p?.conn;
    if (!c && p?.connecting) return p.connecting.then(noop, noop); // frames waiting for the dial go out once it is up
    if (!c || !this.overQueue(c)) return Promise.resolve();
    return new Promise((r) => c.drainWaiters.push(r));
  }

  request(peer: PeerRef, kind: string, body: unknown, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    this.nextId = (this.nextId + 1) >>> 0;
    const id = this.nextId;
    const admitted = this.admit(peer, { t: 'req', id, kind, body });
    if (admitted instanceof TransportError) {
      this.stats.requestsFailed++;
      return Promise.reject(admitted);
    }
    const { p, frame } = admitted;
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id, resolve, reject,
        timer: setTimeout(() => this.timedOut(pending, new TransportError('timeout', `${kind} to ${p.name} timed out after ${timeoutMs} ms`)), timeoutMs),
      };
      this.inflight.add(pending);
      this.whenConnected(p, frame.length, (c) => {
        if (!this.inflight.has(pending)) return; // timed out while connecting
        if (this.overQueue(c)) return this.finish(pending, this.backpressure(p));
        pending.conn = c;
        pending.rxMark = c.rxChunks;
        c.pending.set(id, pending);
        this.writeFrame(c, frame);
        this.stats.requestsSent++;
      }, (e) => this.finish(pending, e));
    });
  }

  /** One-way message; dropped (and counted) when the peer is unreachable or backed up. */
  cast(peer: PeerRef, kind: string, body: unknown): void {
    const admitted = this.admit(peer, { t: 'cast', kind, body });
    if (admitted instanceof TransportError) {
      if (admitted.code === 'encode') this.log.warn({ peer: peer.name, kind, err: admitted.message }, 'cast not sent');
      return void this.stats.castsDropped++;
    }
    const { p, frame } = admitted;
    this.whenConnected(p, frame.length, (c) => {
      if (this.overQueue(c)) return void this.stats.castsDropped++;
      this.writeFrame(c, frame);
      this.stats.castsSent++;
    }, () => void this.stats.castsDropped++);
  }

  /** The checks every outgoing message passes before it may use memory: fail fast rather than queue. */
  private admit(ref: PeerRef, msg: ReqMsg | CastMsg): { p: Peer; frame: Buffer } | TransportError {
    if (this.closing) return new TransportError('closed', 'transport closed');
    const p = this.peerFor(ref);
    if (p.backingOff) return this.backoffError(p);
    if (p.conn ? this.overQueue(p.conn) : p.waitingBytes > this.maxQueuedBytes) return this.backpressure(p);
    try {
      return { p, frame: encodeFrame(msg, this.maxFrameBytes) };
    } catch (e) {
      return new TransportError('encode', `cannot send ${msg.kind} to ${p.name}: ${(e as Error).message}`);
    }
  }

  /** Frames waiting for a dial count against the peer's queue limit like bytes in the socket do. */
  private whenConnected(p: Peer, bytes: number, send: (c: Conn) => void, fail: (e: TransportError) => void): void {
    if (p.conn) return send(p.conn);
    p.waitingBytes += bytes;
    this.connect(p).then(
      (c) => { p.waitingBytes -= bytes; send(c); },
      (e: TransportError) => { p.waitingBytes -= bytes; fail(e); },
    );
  }

  private peerFor(ref: PeerRef): Peer {
    let p = this.peers.get(ref.name);
    if (!p) {
      p = { name: ref.name, address: ref.address, waitingBytes: 0, backingOff: false, attempts: 0, reachable: false, down: false, forgotten: false };
      this.peers.set(ref.name, p);
    }
    p.address = ref.address; // a restarted peer may have moved; the next dial uses the new address
    return p;
  }

  private backoffError(p: Peer): TransportError {
    const code = p.lastError?.code === 'refused' ? 'refused' : 'unreachable';
    return new TransportError(code, `${p.name} is ${code === 'refused' ? 'refusing connections' : 'unreachable'} (retrying in background): ${p.lastError?.message ?? ''}`, p.lastError?.remote);
  }

  private backpressure(p: Peer): TransportError {
    return new TransportError('backpressure', `more than ${this.maxQueuedBytes} bytes queued to ${p.name}`);
  }

  private overQueue(c: Conn): boolean {
    return c.socket.writableLength > this.maxQueuedBytes;
  }

  private connect(p: Peer): Promise<Conn> {
    if (p.conn) return Promise.resolve(p.conn);
    if (p.connecting) return p.connecting;
    clearTimeout(p.timer);
    const attempt = new Promise<Conn>((resolve, reject) => {
      const addr = parseAddress(p.address);
      if (!addr) return reject(new TransportError('unreachable', `bad cluster address ${JSON.stringify(p.address)} for ${p.name}`));
      const c = this.attach(net.connect(addr), p.address, p);
      c.settle = (err) => {
        c.settle = undefined;
        if (err) reject(err);
        else resolve(c);
      };
      // a name starting with '?' is a first contact by address (cluster join): any node may answer
      const { state, send } = startConnect(this.hsCfg, this.random(NONCE_BYTES), p.name.startsWith('?') ? undefined : p.name);
      c.hs = state;
      this.write(c, send); // net buffers it until the TCP connect completes
    });
    // a connection can die between the handshake and this continuation (close runs on nextTick, before promise jobs)
    const alive = attempt.then((c) => {
      if (c.dead) throw c.failure ?? new TransportError('unreachable', `connection to ${p.name} lost during setup`);
      return c;
    });
    p.connecting = alive.then(
      (c) => {
        p.connecting = undefined;
        if (this.closing || p.forgotten) {
          c.socket.destroy();
          throw new TransportError('closed', 'transport closed');
        }
        if (!p.reachable) this.log.info({ peer: p.name, address: p.address }, 'connected to peer');
        if (p.down) this.downEpoch++;
        Object.assign(p, { conn: c, attempts: 0, reachable: true, down: false, lastError: undefined });
        return c;
      },
      (err: TransportError) => {
        p.connecting = undefined;
        p.reachable = false;
        if (!p.down) this.downEpoch++;
        p.down = true;
        p.lastError = err;
        if (!this.closing && !p.forgotten) this.scheduleRetry(p);
        throw err;
      },
    );
    return p.connecting;
  }

  private scheduleRetry(p: Peer): void {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** p.attempts);
    p.attempts = Math.min(p.attempts + 1, 30);
    // "equal jitter": at least half the ceiling so a flapping peer still backs off, randomised so peers don't retry in lockstep
    const delay = Math.round(ceiling / 2 + (ceiling / 2) * (this.random(4).readUInt32BE(0) / 0x1_0000_0000));
    if (p.attempts === 1) this.log.warn({ peer: p.name, address: p.address, err: p.lastError?.message }, 'peer unreachable; retrying with backoff');
    p.backingOff = true;
    p.timer = setTimeout(() => {
      p.backingOff = false;
      this.connect(p).catch(noop);
    }, delay);
    p.timer.unref();
  }

  private accept(socket: Socket): void {
    if (this.closing) return void socket.destroy();
    const c = this.attach(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    c.hs = startAccept(this.random(NONCE_BYTES));
  }

  private attach(socket: Socket, remote: string, owner?: Peer): Conn {
    socket.setNoDelay(true);
    const c: Conn = {
      socket, remote, owner, decoder: new FrameDecoder({ maxFrameBytes: this.maxFrameBytes }), ready: false, dead: false, paused: false, pending: new Map(), rxChunks: 0, lastRx: Date.now(), drainWaiters: [],
      hsTimer: setTimeout(() => {
        if (c.dead) return void socket.destroy(); // already refused, the peer just hasn't closed
        this.stats.handshakeFailures++;
        this.log.warn({ remote }, 'cluster handshake timed out');
        this.kill(c, new TransportError('unreachable', `handshake with ${remote} timed out`));
      }, this.connectTimeoutMs),
    };
    this.conns.add(c);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('error', (err) => { c.error = err; }); // 'close' follows and does the cleanup
    socket.on('close', () => this.onClose(c));
    return c;
  }

  private kill(c: Conn, failure: TransportError): void {
    c.failure ??= failure;
    c.dead = true;
    c.socket.destroy();
  }

  private onClose(c: Conn): void {
    this.conns.delete(c);
    clearTimeout(c.hsTimer);
    c.dead = true;
    if (c.ready) this.stats.connections--;
    const err = this.closing
      ? new TransportError('closed', 'transport closed')
      : c.failure ?? new TransportError('unreachable', c.ready ? `connection to ${c.peer} lost` : `cannot connect to ${c.remote}: ${c.error?.message ?? 'closed during handshake'}`);
    c.settle?.(err);
    for (const p of [...c.pending.values()]) this.finish(p, err);
    for (const w of c.drainWaiters.splice(0)) w();
    const p = c.owner;
    if (p && p.conn === c) {
      p.conn = undefined;
      p.reachable = false;
      if (!p.down) this.downEpoch++;
      p.down = true;
      if (!this.closing && !p.forgotten) {
        this.log.warn({ peer: p.name, address: p.address, err: err.message }, 'connection to peer lost');
        // redial soon (not at once) so a peer that accepts and then drops us cannot make us spin
        p.timer = setTimeout(() => this.connect(p).catch(noop), this.backoffBaseMs);
        p.timer.unref();
      }
    }
  }

  private protocolError(c: Conn, reason: string): void {
    this.stats.protocolErrors++;
    this.log.warn({ remote: c.remote, peer: c.peer, reason }, 'dropping cluster connection: protocol error');
    this.kill(c, new TransportError('unreachable', `protocol error from ${c.remote}: ${reason}`));
  }

  private onData(c: Conn, chunk: Buffer): void {
    c.rxChunks++;
    c.lastRx = Date.now();
    for (const ev of c.decoder.push(chunk)) {
      if (c.dead) return;
      if (ev.type === 'error') return this.protocolError(c, ev.error.message);
      const parsed = parseEnvelope(ev.value);
      if (!parsed.ok) return this.protocolError(c, parsed.reason);
      if (c.hs) this.onHandshake(c, c.hs, parsed.msg);
      else this.dispatch(c, parsed.msg);
    }
  }

  private onHandshake(c: Conn, state: HandshakeState, msg: Envelope): void {
    const step = handshakeStep(this.hsCfg, state, msg);
    if (step.kind === 'continue') {
      c.hs = step.state;
      if (step.send) this.write(c, step.send);
    } else if (step.kind === 'done') {
      if (step.send) this.write(c, step.send);
      Object.assign(c, { hs: undefined, ready: true, peer: step.peer });
      clearTimeout(c.hsTimer);
      this.stats.connections++;
      c.settle?.();
    } else {
      this.refusal(c, step.kind === 'refuse' ? step.send : undefined, step.reason, step.detail);
    }
  }

  /** `send` set: we refuse the peer; unset: the peer refused us. */
  private refusal(c: Conn, send: RefuseMsg | undefined, reason: RefuseReason, detail: string): void {
    this.stats.handshakeFailures++;
    this.log.warn({ remote: c.remote, reason, detail }, send ? 'refusing cluster connection' : 'peer refused cluster connection');
    c.failure = new TransportError('refused', `${send ? 'refused' : 'refused by'} ${c.remote}: ${reason}: ${detail}`, { code: reason, message: detail });
    if (!send) return this.kill(c, c.failure);
    this.write(c, send);
    c.dead = true;
    c.socket.end(); // flush the refusal so the peer can log why; the hsTimer destroys it if the peer lingers
  }

  private dispatch(c: Conn, msg: Envelope): void {
    if (msg.t === 'req') return this.serve(c, msg);
    if (msg.t === 'res') {
      const p = c.pending.get(msg.id);
      if (!p) return void this.log.debug({ peer: c.peer, id: msg.id }, 'reply for an unknown or timed-out request');
      if (msg.ok) return this.finish(p, undefined, msg.body);
      return this.finish(p, new TransportError('remote', `${c.peer}: ${msg.error.code}: ${msg.error.message}`, msg.error));
    }
    // without a secret the acceptor is done before the connector has judged its hello, so a refusal can follow
    if (msg.t === 'refuse') return this.refusal(c, undefined, msg.reason, msg.message);
    if (msg.t === 'cast') {
      const fn = this.castHandlers.get(msg.kind);
      if (!fn) return void this.log.debug({ peer: c.peer, kind: msg.kind }, 'cast of unknown kind ignored');
      const from = c.peer!;
      Promise.resolve()
        .then(() => fn(msg.body, from))
        .catch((err: unknown) => this.log.warn({ peer: from, kind: msg.kind, err }, 'cast handler failed'));
      return;
    }
    this.protocolError(c, `unexpected ${msg.t} after handshake`);
  }

  private serve(c: Conn, msg: ReqMsg): void {
    this.stats.requestsReceived++;
    const fn = this.handlers.get(msg.kind);
    const from = c.peer!;
    const run = fn
      ? Promise.resolve().then(() => fn(msg.body, from))
      : Promise.reject(Object.assign(new Error(`no handler for ${msg.kind}`), { code: 'unknown_kind' }));
    run.then(
      (body) => this.reply(c, { t: 'res', id: msg.id, ok: true, body }),
      (e: unknown) => {
        const error = toRemoteError(e);
        if (error.code === 'internal') this.log.warn({ peer: from, kind: msg.kind, err: e }, 'request handler failed');
        this.reply(c, { t: 'res', id: msg.id, ok: false, error });
      },
    );
  }

  private reply(c: Conn, res: ResMsg): void {
    if (c.dead) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(res, this.maxFrameBytes);
    } catch (e) {
      frame = encodeFrame({ t: 'res', id: res.id, ok: false, error: { code: 'internal', message: `reply not encodable: ${(e as Error).message}` } } satisfies ResMsg);
    }
    this.writeFrame(c, frame);
    // a peer that sends requests but doesn't read replies: stop reading from it so TCP pushes back on its sends
    if (this.overQueue(c) && !c.paused) {
      c.paused = true;
      c.socket.pause();
    }
  }

  private write(c: Conn, msg: Envelope): void {
    this.writeFrame(c, encodeFrame(msg, this.maxFrameBytes));
  }

  private writeFrame(c: Conn, frame: Buffer): void {
    if (!c.socket.writable) return;
    c.socket.write(frame, () => {
      if (this.overQueue(c)) return;
      for (const w of c.drainWaiters.splice(0)) w();
      if (c.paused && !c.dead) {
        c.paused = false;
        c.socket.resume();
      }
    });
  }

  /**
   * A request timed out. If its outbound connection has carried nothing back
   * since the request was written, nor for at least the default request
   * timeout, the connection is presumed dead and dropped, so the next request
   * redials (resolving the address again) instead of queueing into a black
   * hole: TCP alone keeps a connection whose peer vanished without a reset
   * (its address moved or was removed by a partition, the host froze) "open"
   * for many minutes. A peer that is alive but that slow loses its in-flight
   * requests.
   */
  private timedOut(p: Pending, err: TransportError): void {
    const c = p.conn;
    this.finish(p, err);
    if (!c || c.dead || !c.owner || p.rxMark === undefined) return;
    const silentMs = Date.now() - c.lastRx;
    // (0.9: timers and Date.now() do not tick together)
    if (c.rxChunks !== p.rxMark || silentMs < this.requestTimeoutMs * 0.9) return;
    this.log.warn({ peer: c.peer, address: c.remote, silentMs }, 'connection to peer silent for a request timeout; dropping it');
    this.kill(c, new TransportError('unreachable', `connection to ${c.peer} silent for ${silentMs} ms; presumed dead`));
  }

  private finish(p: Pending, err: TransportError | undefined, value?: unknown): void {
    if (!this.inflight.delete(p)) return;
    clearTimeout(p.timer);
    p.conn?.pending.delete(p.id);
    if (err) {
      this.stats.requestsFailed++;
      p.reject(err);
    } else {
      p.resolve(value);
    }
  }
}
