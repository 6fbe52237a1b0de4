/**
 * Data commands. Keys live in bucket `default`. Writes use `overwrite: true`
 * (redis SET replaces whatever is there, no context needed) and reads resolve
 * siblings last-write-wins over the whole object, so a newer concurrent delete
 * or expiry hides an older value, as it would on a single redis.
 *
 * Multi-key commands (MSET, DEL, MGET, EXISTS) are not atomic across the
 * cluster: each key is its own coordinated request.
 */
import { Buffer } from 'node:buffer';
import { liveSiblings, resolveLastWriteWins } from '../../object/object.js';
import { parseInteger, ReplyError, syntaxError, type CommandDef, type Env } from './command_base.js';
import { compileGlob } from './glob.js';
import type { GetResult } from '../../kv/types.js';
import { R, type Reply } from './writer.js';

export const BUCKET = Buffer.from('default');
const CONTENT_TYPE = 'application/octet-stream';
// frozen: the coordinator keeps what it made of the last options object it was given (KvService.writePlan)
const WRITE = Object.freeze({ overwrite: true });
/** keys asked of kv.scan per page by KEYS */
const KEYS_PAGE = 1000;

function valueOf(env: Env, res: GetResult): Buffer | null {
  if (!res.found) return null;
  // one sibling, found, so live at the read: it is the answer (no second resolution or clock read)
  if (res.object.siblings.length === 1) return res.siblings[0]?.value ?? null;
  const live = liveSiblings(resolveLastWriteWins(res.object), env.now());
  return live.length > 0 ? live[0]!.value : null;
}

function readValue(env: Env, key: Buffer): Promise<Buffer | null> {
  return env.kv.get(BUCKET, key).then((res) => valueOf(env, res));
}

/** Distinct keys (by bytes) and, for each argument, the index of its distinct key. */
function distinct(keys: Buffer[]): { unique: Buffer[]; index: number[] } {
  const seen = new Map<string, number>();
  const unique: Buffer[] = [];
  const index = keys.map((k) => {
    const s = k.toString('latin1');
    let i = seen.get(s);
    if (i === undefined) {
      i = unique.push(k) - 1;
      seen.set(s, i);
    }
    return i;
  });
  return { unique, index };
}

interface SetOptions {
  expiresAt?: number;
  nx: boolean;
  xx: boolean;
}

const PLAIN_SET: SetOptions = { nx: false, xx: false };

function parseSetOptions(env: Env, args: Buffer[]): SetOptions {
  const o: SetOptions = { nx: false, xx: false };
  let ttlGiven = false;
  for (let i = 3; i < args.length; i++) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    if (opt === 'NX' && !o.xx) o.nx = true;
    else if (opt === 'XX' && !o.nx) o.xx = true;
    else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && !ttlGiven && i + 1 < args.length) {
      ttlGiven = true;
      const n = parseInteger(args[++i]!);
      if (n <= 0) throw new ReplyError("ERR invalid expire time in 'set' command");
      const ms = opt === 'EX' || opt === 'EXAT' ? n * 1000 : n;
      const at = opt === 'EX' || opt === 'PX' ? env.now() + ms : ms;
      if (!Number.isSafeInteger(at)) throw new ReplyError("ERR invalid expire time in 'set' command");
      o.expiresAt = at;
    } else throw syntaxError();
  }
  return o;
}

const ok = (): Reply => R.ok;

// get and set skip async functions: they run for nearly every request, and a
// chained promise is cheaper than an async frame awaiting one.
function set(env: Env, args: Buffer[]): Reply | Promise<Reply> {
  const key = args[1]!;
  const opts = args.length === 3 ? PLAIN_SET : parseSetOptions(env, args);
  const content = opts.expiresAt === undefined ? { value: args[2]!, contentType: CONTENT_TYPE } : { value: args[2]!, contentType: CONTENT_TYPE, expiresAt: opts.expiresAt };
  if (!opts.nx && !opts.xx) {
    // a reply in this turn when the replicas allow it: no promise, no coordinator
    const now = env.kv.putNow?.(BUCKET, key, content, undefined, WRITE, env.timing);
    if (now === undefined) return env.kv.put(BUCKET, key, content, undefined, WRITE).then(ok);
    return now instanceof Promise ? now.then(ok) : R.ok;
  }
  // NX/XX read then write: atomic per connection (key ordering) but not across clients or nodes.
  return readValue(env, key).then((v) => {
    if (opts.nx === (v !== null)) return R.null;
    return env.kv.put(BUCKET, key, content, undefined, WRITE).then(ok);
  });
}

function get(env: Env, args: Buffer[]): Reply | Promise<Reply> {
  const now = env.kv.getNow?.(BUCKET, args[1]!, undefined, env.timing);
  if (now !== undefined) {
    const v = valueOf(env, now);
    return v === null ? R.null : R.bulk(v);
  }
  return readValue(env, args[1]!).then((v) => (v === null ? R.null : R.bulk(v)));
}

async function del(env: Env, args: Buffer[]): Promise<Reply> {
  const { unique } = distinct(args.slice(1));
  const deleted = await Promise.all(unique.map((k) => env.kv.delete(BUCKET, k, undefined, WRITE)));
  return R.int(deleted.filter(Boolean).length);
}

async function exists(env: Env, args: Buffer[]): Promise<Reply> {
  // Like redis, a key named twice counts twice.
  const { unique, index } = distinct(args.slice(1));
  const found = await Promise.all(unique.map((k) => readValue(env, k)));
  return R.int(index.filter((i) => found[i] !== null).length);
}

async function mget(env: Env, args: Buffer[]): Promise<Reply> {
  const { unique, index } = distinct(args.slice(1));
  const values = await Promise.all(unique.map((k) => readValue(env, k)));
  return R.array(index.map((i) => (values[i] === null ? R.null : R.bulk(values[i]!))));
}

async function mset(env: Env, args: Buffer[]): Promise<Reply> {
  if (args.length % 2 === 0) throw new ReplyError("ERR wrong number of arguments for 'mset' command");
  // The last value given for a key wins, as in redis.
  const last = new Map<string, [Buffer, Buffer]>();
  for (let i = 1; i < args.length; i += 2) last.set(args[i]!.toString('latin1'), [args[i]!, args[i + 1]!]);
  await Promise.all([...last.values()].map(([k, v]) => env.kv.put(BUCKET, k, { value: v, contentType: CONTENT_TYPE }, undefined, WRITE)));
  return R.ok;
}

async function dbsize(env: Env): Promise<Reply> {
  return R.int(await env.kv.count(BUCKET));
}

async function keys(env: Env, args: Buffer[]): Promise<Reply> {
  const match = compileGlob(args[1]!);
  const out: Reply[] = [];
  let cursor = 0;
  do {
    const page = await env.kv.scan(BUCKET, cursor, KEYS_PAGE, match);
    for (const k of page.keys) out.push(R.bulk(k));
    if (page.cursor !== 0 && page.cursor <= cursor) throw new Error(`scan cursor did not advance (${cursor} -> ${page.cursor})`);
    cursor = page.cursor;
  } while (cursor !== 0);
  return R.array(out);
}

const MAX_CURSOR = 0xffffffff;

async function scan(env: Env, args: Buffer[]): Promise<Reply> {
  const c = args[1]!.toString('latin1');
  if (!/^\d{1,20}$/.test(c)) throw new ReplyError('ERR invalid cursor');
  let match: ((k: Buffer) => boolean) | undefined;
  let count = 10;
  let typeOk = true;
  for (let i = 2; i < args.length; i += 2) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    const val = args[i + 1];
    if (val === undefined) throw syntaxError();
    if (opt === 'MATCH') match = compileGlob(val);
    else if (opt === 'COUNT') {
      count = parseInteger(val);
      if (count < 1) throw syntaxError();
    } else if (opt === 'TYPE') typeOk = val.toString('latin1').toLowerCase() === 'string';
    else throw syntaxError();
  }
  // Cursors are 32-bit key hashes: anything beyond ends the scan, like a stale redis cursor.
  const cursor = Number(c);
  if (cursor > MAX_CURSOR || !typeOk) return R.array([R.bulk('0'), R.array([])]);
  const page = await env.kv.scan(BUCKET, cursor, Math.min(count, 100_000), match);
  return R.array([R.bulk(String(page.cursor)), R.array(page.keys.map((k) => R.bulk(k)))]);
}

const oneKey = (write: boolean) => (args: Buffer[]) => ({ keys: [args[1]!], write });
const allKeys = (write: boolean) => (args: Buffer[]) => ({ keys: args.slice(1), write });
const keyspace = (): 'keyspace' => 'keyspace';

export const kvCommands: CommandDef[] = [
  { name: 'get', arity: 2, handler: (e, _c, a) => get(e, a), flags: ['readonly', 'fast'], firstKey: 1, lastKey: 1, step: 1, access: oneKey(false) },
  { name: 'set', arity: -3, handler: (e, _c, a) => set(e, a), flags: ['write', 'denyoom'], firstKey: 1, lastKey: 1, step: 1, access: oneKey(true) },
  { name: 'del', arity: -2, handler: (e, _c, a) => del(e, a), flags: ['write'], firstKey: 1, lastKey: -1, step: 1, access: allKeys(true) },
  { name: 'exists', arity: -2, handler: (e, _c, a) => exists(e, a), flags: ['readonly', 'fast'], firstKey: 1, lastKey: -1, step: 1, access: allKeys(false) },
  { name: 'mget', arity: -2, handler: (e, _c, a) => mget(e, a), flags: ['readonly', 'fast'], firstKey: 1, lastKey: -1, step: 1, access: allKeys(false) },
  {
    name: 'mset',
    arity: -3,
    handler: (e, _c, a) => mset(e, a),
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: -1,
    step: 2,
    access: (a) => ({ keys: a.filter((_, i) => i % 2 === 1), write: true }),
  },
  { name: 'dbsize', arity: 1, handler: (e) => dbsize(e), flags: ['readonly', 'fast'], access: keyspace },
  { name: 'keys', arity: 2, handler: (e, _c, a) => keys(e, a), flags: ['readonly'], access: keyspace },
  { name: 'scan', arity: -2, handler: (e, _c, a) => scan(e, a), flags: ['readonly'], access: keyspace },
];
