/**
 * The RESP command table and its dispatcher: lookup, arity, authentication,
 * per-connection key ordering, metrics and the mapping of errors to replies.
 * Handlers live in commands_kv.ts (data) and commands_conn.ts (connection).
 */
import { performance } from 'node:perf_hooks';
import { BadRequestError, RequestTimeoutError, UnavailableError, type RequestTiming } from '../../kv/types.js';
import { SiblingLimitError } from '../../object/object.js';
import { arityError, ReplyError, type CommandDef, type ConnState, type Env } from './command_base.js';
import type { Hold, KeyOrder } from './key_order.js';
import { connCommands } from './commands_conn.js';
import { kvCommands } from './commands_kv.js';
import { R, type Reply } from './writer.js';

export { newConnState, ReplyError, type CommandDef, type ConnState, type Env, type InfoSections } from './command_base.js';

export function buildTable(): Map<string, CommandDef> {
  const table = new Map<string, CommandDef>();
  for (const def of [...kvCommands, ...connCommands]) table.set(def.name, def);
  return table;
}

/** Maps an error to its reply line and the code counted in rkv_request_errors_total. */
export function errorLine(err: unknown): string {
  if (err instanceof ReplyError) return err.line;
  if (err instanceof UnavailableError) return `UNAVAILABLE ${err.message}`;
  if (err instanceof RequestTimeoutError) return `TIMEOUT ${err.message}`;
  if (err instanceof BadRequestError || err instanceof SiblingLimitError) return `ERR ${err.message}`;
  return `ERR ${err instanceof Error ? err.message : String(err)}`;
}

function isExpected(err: unknown): boolean {
  return (
    err instanceof ReplyError ||
    err instanceof UnavailableError ||
    err instanceof RequestTimeoutError ||
    err instanceof BadRequestError ||
    err instanceof SiblingLimitError
  );
}

function unknownCommand(args: Buffer[]): string {
  let rest = '';
  // Only the first bytes are decoded: an argument may be megabytes long.
  const text = (b: Buffer, n: number): string => b.subarray(0, n).toString().slice(0, n);
  for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${text(args[i]!, 128 - rest.length)}' `;
  return `ERR unknown command '${text(args[0]!, 128)}', with args beginning with: ${rest}`;
}

interface Observer {
  observe(seconds: number): void;
}

/**
 * Runs commands. run() returns the reply synchronously when the command is
 * synchronous, else a promise that never rejects; dispatch() is the same with
 * a callback (the server's path: one promise less per command).
 */
/** Command names remembered as raw bytes by a runner, so the common ones skip decoding and lowercasing. */
const RECENT_NAMES = 8;

/** Registers a command's keys (or the whole keyspace) in its connection's order. */
function acquire(order: KeyOrder, access: ReturnType<NonNullable<CommandDef['access']>>): ReturnType<KeyOrder['acquire']> {
  return access === 'keyspace' ? order.acquire(null, false) : order.acquire(access.keys, access.write);
}

export class CommandRunner {
  private readonly timers = new Map<string, Observer>();
  private readonly recentNames: Buffer[] = [];
  private readonly recentDefs: CommandDef[] = [];
  private nextRecent = 0;
  /** the dispatched command's clock readings, shared with its handler's synchronous part */
  private readonly timing: RequestTiming = { start: 0, end: 0, wall: 0 };
  /** between readStart() and readEnd() */
  private inRead = false;
  /** in a read: when the last command dispatched in it ended its synchronous part */
  private lastEnd = 0;
  /** in a read: its wall-clock reading */
  private wall = 0;

  constructor(readonly env: Env) {}

  run(conn: ConnState, args: Buffer[]): Reply | Promise<Reply> {
    let resolve!: (reply: Reply) => void;
    const later = new Promise<Reply>((r) => (resolve = r));
    const now = this.dispatch(conn, args, resolve);
    return now === undefined ? later : now;
  }

  /**
   * Brackets the commands of one client read. They are timed back to back,
   * each from where the one before it ended (its parsing is part of serving
   * it), so a command costs one clock reading instead of two; and they share
   * one reading of the wall clock (last-modified times, expiry), as redis
   * reads its clock once per event-loop turn.
   */
  readStart(): void {
    this.inRead = true;
    this.lastEnd = performance.now();
    this.wall = this.env.now();
  }

  readEnd(): void {
    this.inRead = false;
  }

  /**
   * run() without a promise of its own: returns the reply of a synchronous
   * command, else undefined and hands the reply to `done` later (never from
   * within this call). Never throws.
   */
  dispatch(conn: ConnState, args: Buffer[], done: (reply: Reply) => void): Reply | undefined {
    this.env.stats.commandsProcessed++;
    const inRead = this.inRead;
    const start = inRead ? this.lastEnd : performance.now();
    const timing = this.timing;
    timing.start = start;
    timing.end = 0;
    timing.wall = inRead ? this.wall : 0;
    this.env.timing = timing;
    const def = this.lookup(args[0]!);
    if (def === undefined) return this.fail('unknown', start, new ReplyError(unknownCommand(args)));
    if ((def.arity > 0 && args.length !== def.arity) || args.length < -def.arity) {
      return this.fail(def.name, start, arityError(def.name));
    }
    if (!conn.authenticated && !def.noAuth) return this.fail(def.name, start, new ReplyError('NOAUTH Authentication required.'));
    const order = conn.order;
    let hold: Hold | null = null;
    try {
      let result: Reply | Promise<Reply>;
      if (def.access === undefined || order.free) {
        result = def.handler(this.env, conn, args);
        // the order was free and nothing ran since: this hold never waits
        if (def.access !== undefined && result instanceof Promise) hold = acquire(order, def.access(args)).hold;
      } else {
        const acquired = acquire(order, def.access(args));
        hold = acquired.hold;
        result = acquired.wait === null ? def.handler(this.env, conn, args) : acquired.wait.then(() => def.handler(this.env, conn, args));
      }
      if (!(result instanceof Promise)) {
        if (hold !== null) order.release(hold);
        // a coordinator that answered in this call timed its end already
        return this.done(def.name, start, result, timing.end);
      }
      const held = hold;
      // One continuation per command: releasing the keys, recording the outcome and replying together.
      result.then(
        (reply) => {
          if (held !== null) order.release(held);
          done(this.done(def.name, start, reply));
        },
        (err: unknown) => {
          if (held !== null) order.release(held);
          done(this.fail(def.name, start, err));
        },
      );
      if (inRead) this.lastEnd = performance.now();
      return undefined;
    } catch (err) {
      if (hold !== null) order.release(hold);
      return this.fail(def.name, start, err);
    }
  }

  private lookup(raw: Buffer): CommandDef | undefined {
    const names = this.recentNames;
    const n = raw.length;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (name.length !== n) continue;
      let j = 0;
      while (j < n && name[j] === raw[j]) j++;
      if (j === n) return this.recentDefs[i];
    }
    const def = this.env.table.get(raw.toString('latin1').toLowerCase());
    if (def !== undefined && n <= 32) {
      // a copy: the argument is a view of the connection's read buffer
      const slot = this.nextRecent;
      this.nextRecent = (slot + 1) % RECENT_NAMES;
      names[slot] = Buffer.from(raw);
      this.recentDefs[slot] = def;
    }
    return def;
  }

  /** Records the command's duration, up to `end` when the clock was read already. */
  private done(op: string, start: number, reply: Reply, end = 0): Reply {
    const at = end > 0 ? end : performance.now();
    // a command finishing asynchronously does so outside any read: lastEnd is then unused
    this.lastEnd = at;
    this.timer(op).observe((at - start) / 1000);
    if (reply.type === 'error') this.countError(op, reply.value);
    return reply;
  }

  private fail(op: string, start: number, err: unknown): Reply {
    if (!isExpected(err)) this.env.logger.warn({ err, op }, 'resp command failed unexpectedly');
    return this.done(op, start, R.error(errorLine(err)));
  }

  private countError(op: string, line: string): void {
    const sp = line.indexOf(' ');
    this.env.metrics.requestErrors.inc({ api: 'resp', op, code: sp < 0 ? line : line.slice(0, sp) });
  }

  private timer(op: string): Observer {
    let t = this.timers.get(op);
    if (t === undefined) {
      t = this.env.metrics.requestDuration.labels({ api: 'resp', op });
      this.timers.set(op, t);
    }
    return t;
  }
}
