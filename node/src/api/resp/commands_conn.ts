/**
 * Connection and server commands: what redis-cli, redis-benchmark and client
 * libraries send around the data commands (handshake, auth, introspection).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { arityError, parseInteger, ReplyError, syntaxError, type CommandDef, type ConnState, type Env, type InfoSections } from './command_base.js';
import { BUCKET } from './commands_kv.js';
import { compileGlob } from './glob.js';
import { R, stringMap, type Reply } from './writer.js';

const NO_PASSWORD =
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?';
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';

function sha(b: Buffer | string): Buffer {
  return createHash('sha256').update(b).digest();
}

/** Password check in constant time (hashing first makes the lengths equal). */
function passwordOk(env: Env, user: Buffer | null, pass: Buffer): boolean {
  if (user !== null && user.toString() !== 'default') return false;
  // Without a password the default user is "nopass": any password works in the two-argument forms.
  if (env.requirePass === undefined) return true;
  return timingSafeEqual(sha(pass), sha(env.requirePass));
}

function auth(env: Env, conn: ConnState, args: Buffer[]): Reply {
  if (args.length > 3) throw syntaxError();
  if (args.length === 2 && env.requirePass === undefined) throw new ReplyError(NO_PASSWORD);
  const user = args.length === 3 ? args[1]! : null;
  if (!passwordOk(env, user, args[args.length - 1]!)) throw new ReplyError(WRONGPASS);
  conn.authenticated = true;
  return R.ok;
}

function validName(name: Buffer): boolean {
  // Redis refuses spaces, newlines and anything outside printable ASCII.
  for (const c of name) if (c < 0x21 || c > 0x7e) return false;
  return true;
}

function setName(conn: ConnState, name: Buffer): void {
  if (!validName(name)) throw new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.');
  conn.name = name.length === 0 ? null : name.toString();
}

function rkvVersion(env: Env): string {
  const s = env.info().server;
  return String(s?.rkv_version ?? s?.version ?? '0.0.0');
}

function hello(env: Env, conn: ConnState, args: Buffer[]): Reply {
  let proto = conn.proto;
  let authArgs: [Buffer, Buffer] | null = null;
  let name: Buffer | null = null;
  if (args.length >= 2) {
    const s = args[1]!.toString('latin1');
    if (!/^-?\d{1,16}$/.test(s)) throw new ReplyError('ERR Protocol version is not an integer or out of range');
    const v = Number(s);
    for (let i = 2; i < args.length; i++) {
      const opt = args[i]!.toString('latin1').toUpperCase();
      if (opt === 'AUTH' && i + 2 < args.length) {
        authArgs = [args[i + 1]!, args[i + 2]!];
        i += 2;
      } else if (opt === 'SETNAME' && i + 1 < args.length) {
        name = args[++i]!;
      } else {
        throw new ReplyError(`ERR Syntax error in HELLO option '${args[i]!.subarray(0, 128).toString()}'`);
      }
    }
    if (v !== 2 && v !== 3) throw new ReplyError('NOPROTO unsupported protocol version');
    proto = v;
  }
  if (authArgs !== null) {
    if (!passwordOk(env, authArgs[0], authArgs[1])) throw new ReplyError(WRONGPASS);
    conn.authenticated = true;
  }
  if (!conn.authenticated) {
    throw new ReplyError(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (name !== null) setName(conn, name);
  // The reply itself is already in the new protocol, as in redis.
  conn.proto = proto;
  return stringMap([
    ['server', 'rkv'],
    ['version', rkvVersion(env)],
    ['proto', proto],
    ['id', conn.id],
    ['mode', 'standalone'],
    ['role', 'master'],
    ['modules', R.array([])],
  ]);
}

function client(conn: ConnState, args: Buffer[]): Reply {
  const sub = args[1]!.toString('latin1').toLowerCase();
  const want = (n: number): void => {
    if (args.length !== n) throw arityError(`client|${sub}`);
  };
  switch (sub) {
    case 'setname':
      want(3);
      setName(conn, args[2]!);
      return R.ok;
    case 'getname':
      want(2);
      return conn.name === null ? R.null : R.bulk(conn.name);
    case 'id':
      want(2);
      return R.int(conn.id);
    case 'setinfo': {
      // Sent by ioredis and node-redis on connect; accepted so it is not counted as an error.
      want(4);
      const attr = args[2]!.toString('latin1').toLowerCase();
      if (attr !== 'lib-name' && attr !== 'lib-ver') throw new ReplyError(`ERR Unrecognized option '${args[2]!.toString()}'`);
      return R.ok;
    }
    default:
      throw new ReplyError(`ERR unknown subcommand '${args[1]!.subarray(0, 128).toString()}'. Try CLIENT HELP.`);
  }
}

function titleCase(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Sections named by the caller come first in redis order; our counters fill in
 * what the node's callback leaves out. The keyspace count is a coverage fold,
 * so a bare INFO (sent by ioredis on every connect) does not compute it.
 */
async function info(env: Env, args: Buffer[]): Promise<Reply> {
  const asked = new Set(args.slice(1).map((a) => a.toString('latin1').toLowerCase()));
  const all = asked.size === 0 || asked.has('all') || asked.has('everything') || asked.has('default');
  const fromNode = env.info();
  const base: InfoSections = {
    server: { redis_version: '7.0.0', redis_mode: 'standalone', process_id: process.pid, tcp_port: env.stats.port },
    clients: { connected_clients: env.stats.connectedClients },
    stats: { total_connections_received: env.stats.connectionsReceived, total_commands_processed: env.stats.commandsProcessed },
    keyspace: {},
  };
  const names = [...new Set([...Object.keys(base), ...Object.keys(fromNode)])];
  const wantKeyspace = asked.has('keyspace') || asked.has('all') || asked.has('everything');
  if (wantKeyspace && fromNode.keyspace === undefined) {
    const n = await env.kv.count(BUCKET);
    if (n > 0) base.keyspace!.db0 = `keys=${n},expires=0,avg_ttl=0`;
  }
  const out: string[] = [];
  for (const name of names) {
    if (!all && !asked.has(name)) continue;
    const fields = { ...base[name], ...fromNode[name] };
    let text = `# ${titleCase(name)}\r\n`;
    for (const [k, v] of Object.entries(fields)) text += `${k}:${v}\r\n`;
    out.push(text);
  }
  return R.verbatim(out.join('\r\n'));
}

function commandInfo(def: CommandDef): Reply {
  return R.array([
    R.bulk(def.name),
    R.int(def.arity),
    R.array(def.flags.map((f) => R.simple(f))),
    R.int(def.firstKey ?? 0),
    R.int(def.lastKey ?? 0),
    R.int(def.step ?? 0),
    R.array([]),
    R.array([]),
    R.array([]),
    R.array([]),
  ]);
}

function command(env: Env, args: Buffer[]): Reply {
  if (args.length === 1) return R.array([...env.table.values()].map(commandInfo));
  const sub = args[1]!.toString('latin1').toLowerCase();
  switch (sub) {
    case 'count':
      return R.int(env.table.size);
    case 'docs':
      // redis-cli asks for docs to show hints; none is a valid answer.
      return R.map([]);
    case 'list':
      return R.array([...env.table.keys()].map((n) => R.bulk(n)));
    case 'info':
      return R.array(
        args.slice(2).map((a) => {
          const def = env.table.get(a.toString('latin1').toLowerCase());
          return def === undefined ? R.null : commandInfo(def);
        }),
      );
    default:
      throw new ReplyError(`ERR unknown subcommand '${args[1]!.subarray(0, 128).toString()}'. Try COMMAND HELP.`);
  }
}

function config(env: Env, args: Buffer[]): Reply {
  const sub = args[1]!.toString('latin1').toLowerCase();
  if (sub !== 'get') throw new ReplyError(`ERR unknown subcommand '${args[1]!.subarray(0, 128).toString()}'. Try CONFIG HELP.`);
  if (args.length < 3) throw arityError('config|get');
  // What redis-benchmark and tools ask for; rkv has no persistence knobs of redis' kind.
  const params: Array<[string, string]> = [
    ['save', ''],
    ['appendonly', 'no'],
    ['databases', '1'],
    ['maxmemory', '0'],
    ['maxmemory-policy', 'noeviction'],
    ['proto-max-bulk-len', String(env.maxValueSize)],
    ['timeout', '0'],
  ];
  const matchers = args.slice(2).map((p) => compileGlob(p, true));
  const hits = params.filter(([k]) => matchers.some((m) => m(Buffer.from(k))));
  return stringMap(hits);
}

function select(args: Buffer[]): Reply {
  if (parseInteger(args[1]!) !== 0) throw new ReplyError('ERR DB index is out of range');
  return R.ok;
}

export const connCommands: CommandDef[] = [
  {
    name: 'ping',
    arity: -1,
    noAuth: true,
    flags: ['fast'],
    handler: (_e, _c, a) => {
      if (a.length > 2) throw arityError('ping');
      return a.length === 2 ? R.bulk(a[1]!) : R.simple('PONG');
    },
  },
  { name: 'echo', arity: 2, flags: ['fast'], handler: (_e, _c, a) => R.bulk(a[1]!) },
  { name: 'info', arity: -1, flags: ['loading', 'stale'], handler: (e, _c, a) => info(e, a) },
  { name: 'auth', arity: -2, noAuth: true, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'], handler: auth },
  { name: 'hello', arity: -1, noAuth: true, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'], handler: hello },
  { name: 'client', arity: -2, flags: ['noscript', 'loading', 'stale'], handler: (_e, c, a) => client(c, a) },
  { name: 'select', arity: 2, flags: ['loading', 'stale', 'fast'], handler: (_e, _c, a) => select(a) },
  {
    name: 'quit',
    arity: -1,
    noAuth: true,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'],
    handler: (_e, c) => {
      c.quit = true;
      return R.ok;
    },
  },
  { name: 'command', arity: -1, flags: ['loading', 'stale'], handler: (e, _c, a) => command(e, a) },
  { name: 'config', arity: -2, flags: ['admin', 'noscript', 'loading', 'stale'], handler: (e, _c, a) => config(e, a) },
];
