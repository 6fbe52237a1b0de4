/**
 * The RESP listener: sockets in, parser, command runner, ordered replies out.
 * Everything a client sends ends as a reply or a closed connection; nothing
 * it sends can throw out of here.
 */
import { Buffer } from 'node:buffer';
import net, { type AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { KvApi } from '../../kv/types.js';
import type { Metrics } from '../metrics.js';
import { buildTable, CommandRunner, newConnState, type ConnState, type Env, type InfoSections } from './commands.js';
import { RespParser } from './parser.js';
import { encodeReply, R, ReplyQueue, type Proto, type Reply, type ReplySlot } from './writer.js';

export interface RespServerOptions {
  kv: KvApi;
  metrics: Metrics;
  logger: Logger;
  maxValueSize: number;
  requirePass?: string;
  info: () => InfoSections;
  now: () => number;
}

/** Commands of one connection running at once before we stop reading from it. */
const MAX_IN_FLIGHT = 4096;
/** How long close() waits for in-flight commands before cutting connections. */
const CLOSE_GRACE_MS = 5000;

export class RespServer {
  private readonly env: Env;
  private readonly runner: CommandRunner;
  private server: net.Server | null = null;
  private readonly conns = new Set<Connection>();
  private readonly flushes = new FlushBatch();
  private nextId = 1;

  constructor(private readonly opts: RespServerOptions) {
    this.env = {
      ...opts,
      stats: { connectedClients: 0, connectionsReceived: 0, commandsProcessed: 0, port: 0 },
      table: buildTable(),
    };
    this.runner = new CommandRunner(this.env);
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
      const onError = (err: NodeJS.ErrnoException): void => {
        srv.close();
        reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} already in use (resp listener on ${host})`) : err);
      };
      srv.once('error', onError);
      srv.listen(port, host, () => {
        srv.off('error', onError);
        srv.on('error', (err) => this.env.logger.error({ err }, 'resp listener error'));
        this.server = srv;
        const addr = srv.address() as AddressInfo;
        this.env.stats.port = addr.port;
        this.env.logger.info({ address: `${addr.address}:${addr.port}` }, 'resp listening');
        resolve(addr);
      });
    });
  }

  /** Stops accepting, lets in-flight commands finish and their replies flush, then closes every client. */
  async close(): Promise<void> {
    const srv = this.server;
    this.server = null;
    const closed = srv ? new Promise<void>((resolve) => srv.close(() => resolve())) : Promise.resolve();
    const conns = [...this.conns];
    for (const c of conns) c.shutdown();
    const timer = setTimeout(() => {
      for (const c of this.conns) c.destroy();
    }, CLOSE_GRACE_MS);
    timer.unref();
    await Promise.all(conns.map((c) => c.closed));
    clearTimeout(timer);
    await closed;
  }

  private accept(socket: net.Socket): void {
    if (this.server === null) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, newConnState(this.nextId++, this.opts), this.runner, this.env, this.flushes);
    this.conns.add(conn);
    this.env.stats.connectedClients++;
    this.env.stats.connectionsReceived++;
    this.env.metrics.clientConnections.inc({ api: 'resp' });
    void conn.closed.then(() => {
      this.conns.delete(conn);
      this.env.stats.connectedClients--;
      this.env.metrics.clientConnections.dec({ api: 'resp' });
    });
  }
}

/**
 * Replies are written once per turn of the event loop, after every socket that
 * was readable in it has been served, as redis writes its replies before it
 * sleeps: a client then finds many replies at each wake-up instead of being
 * woken once per reply, which on loopback costs more than the reply itself
 * (measured on a plain Node RESP loop: +5-15% unpipelined, +65% at -P 16).
 */
class FlushBatch {
  private due: Connection[] = [];
  private readonly run = (): void => {
    const due = this.due;
    this.due = [];
    for (const c of due) c.flushNow();
  };

  add(conn: Connection): void {
    if (this.due.push(conn) === 1) setImmediate(this.run);
  }
}

class Connection {
  readonly closed: Promise<void>;
  private readonly parser: RespParser;
  private readonly queue: ReplyQueue;
  private readonly log: Logger;
  private closeWhenDone = false;
  private ended = false;
  private waitingDrain = false;
  private reading = true;
  private flushDue = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly state: ConnState,
    private readonly runner: CommandRunner,
    env: Env,
    private readonly flushes: FlushBatch,
  ) {
    this.log = env.logger.child({ client: state.id, remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.queue = new ReplyQueue(socket);
    this.parser = new RespParser(
      {
        command: (args) => this.onCommand(args),
        commandError: (message) => {
          env.metrics.requestErrors.inc({ api: 'resp', op: 'unknown', code: 'ERR' });
          this.queue.push(encodeReply(R.error(`ERR ${message}`), this.state.proto));
        },
        protocolError: (message) => {
          env.metrics.protocolErrors.inc({ api: 'resp' });
          this.log.info({ reason: message }, 'resp protocol error, closing connection');
          this.queue.push(encodeReply(R.error(`ERR ${message}`), this.state.proto));
          this.closeWhenDone = true;
        },
      },
      { maxValueSize: env.maxValueSize },
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.waitingDrain = false;
      this.updateReading();
    });
    // The client finished sending: answer what it sent, then close (as redis does for `cmd | redis-cli`).
    socket.on('end', () => {
      this.parser.stop();
      this.closeWhenDone = true;
      this.flush();
    });
    socket.on('error', (err) => {
      this.log.debug({ err }, 'resp client socket error');
      socket.destroy();
    });
    socket.once('close', () => this.parser.stop());
    this.log.debug('resp client connected');
  }

  /** Server shutdown: stop reading, finish what is in flight, then close. */
  shutdown(): void {
    this.parser.stop();
    this.closeWhenDone = true;
    this.flush();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.runner.readStart();
    try {
      this.parser.feed(chunk);
    } catch (err) {
      // A bug of ours must cost this client its connection, not the node its life.
      this.log.error({ err }, 'resp connection failed');
      this.parser.stop();
      this.socket.destroy();
      return;
    } finally {
      this.runner.readEnd();
    }
    this.flush();
  }

  private onCommand(args: Buffer[]): void {
    let slot: ReplySlot | null = null;
    const now = this.runner.dispatch(this.state, args, (reply) => {
      this.queue.fill(slot!, encode(reply, proto));
      this.flush();
    });
    // Captured after the synchronous part ran: HELLO 3 answers in RESP3 already.
    const proto = this.state.proto;
    // dispatch() never calls back before it returned, so the slot is there in time.
    if (now === undefined) slot = this.queue.reserve();
    else this.queue.push(encode(now, proto));
    if (this.state.quit) {
      this.parser.stop();
      this.closeWhenDone = true;
    }
  }

  /** Writes what is ready at the end of this turn (see FlushBatch). */
  private flush(): void {
    if (this.flushDue) return;
    this.flushDue = true;
    this.flushes.add(this);
  }

  flushNow(): void {
    this.flushDue = false;
    if (this.socket.destroyed || this.ended) return;
    if (!this.queue.flush()) this.waitingDrain = true;
    if (this.closeWhenDone && this.queue.idle) {
      this.ended = true;
      // Close both directions once the replies are out (allowHalfOpen would keep our side readable).
      this.socket.destroySoon();
      return;
    }
    this.updateReading();
  }

  /** Backpressure: stop reading while the client does not read our replies or too much is in flight. */
  private updateReading(): void {
    const stop = this.waitingDrain || this.closeWhenDone || this.queue.pending >= MAX_IN_FLIGHT;
    if (stop && this.reading) {
      this.reading = false;
      this.socket.pause();
    } else if (!stop && !this.reading) {
      this.reading = true;
      this.socket.resume();
    }
  }
}

function encode(reply: Reply, proto: Proto): Buffer {
  try {
    return encodeReply(reply, proto);
  } catch (err) {
    return encodeReply(R.error(`ERR cannot encode reply: ${err instanceof Error ? err.message : String(err)}`), proto);
  }
}
