/** Types and helpers shared by the command modules (kept apart to avoid import cycles). */
import type { Logger } from 'pino';
import type { KvApi, RequestTiming } from '../../kv/types.js';
import type { Metrics } from '../metrics.js';
import { KeyOrder } from './key_order.js';
import type { Proto, Reply } from './writer.js';

export type InfoSections = Record<string, Record<string, string | number>>;

/** What every handler can reach; one per server. */
export interface Env {
  kv: KvApi;
  metrics: Metrics;
  logger: Logger;
  maxValueSize: number;
  requirePass?: string;
  info: () => InfoSections;
  now: () => number;
  /** counters kept by the server and the dispatcher, shown by INFO */
  stats: { connectedClients: number; connectionsReceived: number; commandsProcessed: number; port: number };
  table: ReadonlyMap<string, CommandDef>;
  /** the clock readings of the command being dispatched (see RequestTiming); valid in its handler's synchronous part */
  timing?: RequestTiming;
}

/** One client connection's state. */
export interface ConnState {
  readonly id: number;
  name: string | null;
  proto: Proto;
  authenticated: boolean;
  /** set by QUIT: stop reading and close once the replies are written */
  quit: boolean;
  readonly order: KeyOrder;
}

export function newConnState(id: number, env: Pick<Env, 'requirePass'>): ConnState {
  return { id, name: null, proto: 2, authenticated: env.requirePass === undefined, quit: false, order: new KeyOrder() };
}

export type Handler = (env: Env, conn: ConnState, args: Buffer[]) => Reply | Promise<Reply>;

export interface CommandDef {
  /** lowercase, as in redis' arity errors and our metrics */
  name: string;
  /** redis convention: N exactly N arguments (name included), -N at least N */
  arity: number;
  handler: Handler;
  /** allowed before AUTH when a password is set */
  noAuth?: boolean;
  /** COMMAND metadata */
  flags: string[];
  firstKey?: number;
  lastKey?: number;
  step?: number;
  /** keys the command reads or writes, for per-connection ordering; 'keyspace' for whole-keyspace reads */
  access?: (args: Buffer[]) => { keys: Buffer[]; write: boolean } | 'keyspace';
}

/** Raised by handlers for a reply-worthy error ("ERR syntax error" etc.). */
export class ReplyError extends Error {
  constructor(readonly line: string) {
    super(line);
    this.name = 'ReplyError';
  }
}

export const syntaxError = (): ReplyError => new ReplyError('ERR syntax error');
export const notInteger = (): ReplyError => new ReplyError('ERR value is not an integer or out of range');
export const arityError = (name: string): ReplyError => new ReplyError(`ERR wrong number of arguments for '${name}' command`);

/** Parses a redis integer argument (optional '-', digits, no blanks). */
export function parseInteger(arg: Buffer): number {
  const s = arg.toString('latin1');
  if (!/^-?\d{1,16}$/.test(s)) throw notInteger();
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw notInteger();
  return n;
}

