/**
 * RESP driver: one ioredis connection per worker (GET/SET/DEL on the bucket
 * `default`). ioredis is set to fail fast rather than queue: a benchmark must
 * count a command that could not be sent, not hold it until a reconnect.
 */
import { Redis } from 'ioredis';
import { classify, OpError, serverKind, type Driver, type DriverOptions, type ReadResult } from './driver.js';

export class RespDriver implements Driver {
  readonly target: string;
  private readonly redis: Redis;
  /** why the socket is down; commands refused while reconnecting report it instead of ioredis' generic message */
  private connError: OpError | undefined;

  constructor(opts: DriverOptions) {
    this.target = opts.target;
    const i = opts.target.lastIndexOf(':');
    this.redis = new Redis({
      host: opts.target.slice(0, i).replace(/^\[|\]$/g, ''),
      port: Number(opts.target.slice(i + 1)),
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: opts.timeoutMs,
      connectTimeout: opts.timeoutMs,
      retryStrategy: (times: number) => Math.min(50 * times, 500),
      // ioredis arms this timer even for a socket that is already closed (a target that never
      // answered); its 2 s default would hold the process open after the run.
      disconnectTimeout: 200,
    });
    this.redis.on('error', (err: unknown) => {
      this.connError = classify(err);
    });
    this.redis.on('ready', () => {
      this.connError = undefined;
    });
  }

  private fail(err: unknown): never {
    // An error reply from the server (ioredis' ReplyError): its first word is the Redis error code.
    if (err instanceof Error && err.name === 'ReplyError') {
      const code = err.message.split(' ')[0] ?? '';
      throw new OpError(serverKind(code) ?? 'server_error', err.message);
    }
    const e = classify(err);
    if (e.kind === 'client_error' && this.redis.status !== 'ready') throw this.connError ?? new OpError('connection_closed', e.message);
    throw e;
  }

  async connect(): Promise<void> {
    try {
      await this.redis.connect();
      await this.redis.ping();
    } catch (err) {
      this.fail(err);
    }
  }

  async get(key: string): Promise<ReadResult> {
    try {
      return { value: await this.redis.getBuffer(key) };
    } catch (err) {
      this.fail(err);
    }
  }

  async put(key: string, value: Buffer): Promise<void> {
    try {
      await this.redis.set(key, value);
    } catch (err) {
      this.fail(err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.redis.del(key);
    } catch (err) {
      this.fail(err);
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
