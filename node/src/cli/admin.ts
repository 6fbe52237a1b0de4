/**
 * `rkv admin` (SPEC section 3): each command is one call to the node's admin
 * HTTP API, printed as JSON (--json) or as a human table.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Argument, Command, Help, InvalidArgumentError, Option } from 'commander';
import { formatPairs, formatTable, renderValue } from './table.js';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8098';

interface AdminCall {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: unknown;
}

interface AdminCommand {
  /** words become nested subcommands: 'cluster join' -> admin cluster join */
  name: string;
  args?: Argument[];
  description: string;
  call: (args: unknown[]) => AdminCall;
  render?: (data: unknown) => string;
}

const get = (path: string): AdminCall => ({ method: 'GET', path });
const post = (path: string, body: unknown = {}): AdminCall => ({ method: 'POST', path, body });

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new InvalidArgumentError('must be a positive integer.');
  }
  return Number(v);
}

function nonNegativeInt(v: string): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError('must be a non-negative integer.');
  return Number(v);
}

/** Partition ids may be ring indexes or hash positions too large for a JS number. */
function partitionId(v: string): number | string {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a partition index or id (digits).');
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

const arg = (spec: string, description: string, parse?: (v: string) => unknown): Argument => {
  const a = new Argument(spec, description);
  return parse ? a.argParser(parse) : a;
};

const bucketPath = (prefix: string) => (args: unknown[]) => get(`${prefix}/${encodeURIComponent(String(args[0]))}`);

export const ADMIN_COMMANDS: AdminCommand[] = [
  { name: 'cluster join', args: [arg('<node>', 'node name or host:port of any cluster member')],
    description: 'stage this node joining the cluster that the given node belongs to',
    call: ([node]) => post('/admin/cluster/join', { node }) },
  { name: 'cluster leave', args: [arg('[node]', 'node to leave (default: this node)')],
    description: 'stage a graceful leave (its partitions are handed off first)',
    call: ([node]) => post('/admin/cluster/leave', node === undefined ? {} : { node }) },
  { name: 'cluster force-remove', args: [arg('<node>', 'name of the dead node')],
    description: 'stage removal of a dead node without handoff',
    call: ([node]) => post('/admin/cluster/force-remove', { node }) },
  { name: 'cluster plan', description: 'show staged changes and the resulting ownership and transfers',
    call: () => get('/admin/cluster/plan') },
  { name: 'cluster commit', description: 'apply the staged plan', call: () => post('/admin/cluster/commit') },
  { name: 'cluster clear', description: 'drop the staged plan', call: () => post('/admin/cluster/clear') },
  { name: 'member-status', description: 'members, status, ring % now and pending',
    call: () => get('/admin/member-status'), render: renderMemberStatus },
  { name: 'ring-status', description: 'claimant, ring ready, ownership handoffs waiting, unreachable nodes',
    call: () => get('/admin/ring-status'), render: renderRingStatus },
  { name: 'vnode-status', description: 'partitions holding data on this node, primary or not',
    call: () => get('/admin/vnode-status') },
  { name: 'transfers', description: 'active and pending handoffs with type, progress and rate',
    call: () => get('/admin/transfers') },
  { name: 'transfer-limit', args: [arg('[n]', 'new limit (0 holds handoffs)', nonNegativeInt)],
    description: 'show / set concurrent handoffs per node (default 2)',
    call: ([n]) => (n === undefined ? get('/admin/transfer-limit') : { method: 'PUT', path: '/admin/transfer-limit', body: { limit: n } }) },
  { name: 'ring resize', args: [arg('<size>', 'new ring size (power of two)', positiveInt)],
    description: 'stage a ring resize (then plan/commit)', call: ([size]) => post('/admin/ring/resize', { size }) },
  { name: 'ring resize-abort', description: 'abort a staged or running ring resize',
    call: () => post('/admin/ring/resize-abort') },
  { name: 'repair', args: [arg('<partition>', 'partition to rebuild', partitionId)],
    description: "rebuild one partition's data from its replicas", call: ([partition]) => post('/admin/repair', { partition }) },
  { name: 'keys', args: [arg('<bucket>', 'bucket name')], description: 'list the keys of a bucket (coverage query)',
    call: bucketPath('/admin/keys') },
  { name: 'count', args: [arg('<bucket>', 'bucket name')], description: 'count the keys of a bucket (coverage query)',
    call: bucketPath('/admin/count') },
];

// ---- rendering -------------------------------------------------------------

interface Member {
  name: string;
  status: string;
  ringPct: number | null;
  pendingPct: number | null;
  reachable: boolean;
}

const pct = (v: unknown): string => (typeof v === 'number' ? `${v.toFixed(1)}%` : '--');

function renderMemberStatus(data: unknown): string {
  const members = (data as { members?: Member[] } | null)?.members;
  if (!Array.isArray(members)) return renderValue(data);
  const table = formatTable(members as unknown as Record<string, unknown>[], [
    { header: 'name', value: (m) => m.name },
    { header: 'status', value: (m) => m.status },
    { header: 'ring', value: (m) => pct(m.ringPct), align: 'right' },
    { header: 'pending', value: (m) => pct(m.pendingPct), align: 'right' },
    { header: 'reachable', value: (m) => m.reachable },
  ]);
  const counts = ['valid', 'leaving', 'exiting', 'joining', 'down'].map(
    (s) => `${s[0]!.toUpperCase()}${s.slice(1)}: ${members.filter((m) => m.status === s).length}`,
  );
  return `${table}\n${counts.join(' / ')}`;
}

function renderRingStatus(data: unknown): string {
  if (typeof data !== 'object' || data === null) return renderValue(data);
  const d = data as Record<string, unknown>;
  const waiting = d.pendingOwnershipTransfers;
  const unreachable = Array.isArray(d.unreachable) && d.unreachable.length === 0 ? 'none' : d.unreachable;
  const head = formatPairs([
    ['claimant', d.claimant],
    ['ring ready', d.ringReady],
    ['ring size', d.ringSize],
    ['ownership handoffs waiting', Array.isArray(waiting) ? waiting.length : waiting],
    ['unreachable nodes', unreachable],
  ]);
  return Array.isArray(waiting) && waiting.length > 0 ? `${head}\n\n${renderValue(waiting)}` : head;
}

// ---- HTTP ------------------------------------------------------------------

/** Error whose message is printed as-is after `rkv admin: `. */
export class AdminError extends Error {}

const CONNECT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNABORTED: 'connection aborted',
};

function connectFailure(err: unknown): string {
  // Dual-stack connects (localhost -> ::1 and 127.0.0.1) fail with an AggregateError.
  let cause = err;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string') return CONNECT_FAILURES[code] ?? code;
  return cause instanceof Error ? cause.message : String(cause);
}

interface RawResponse {
  status: number;
  statusText: string;
  text: string;
}

/**
 * node:http rather than fetch: fetch refuses the WHATWG "bad ports" (1, 6000,
 * 6665-6669, ...) outright, and a node may well listen on one of them.
 */
function request(url: URL, call: AdminCall, timeoutMs: number): Promise<RawResponse> {
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: call.method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function callAdmin(baseUrl: string, call: AdminCall, timeoutMs: number): Promise<unknown> {
  const base = baseUrl.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(base + call.path);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new AdminError(`invalid --url ${JSON.stringify(baseUrl)} (expected e.g. ${DEFAULT_ADMIN_URL})`);
  }
  let res: RawResponse;
  try {
    res = await request(url, call, timeoutMs);
  } catch (err) {
    if ((err as Error).name === 'AbortError') {
      throw new AdminError(`node at ${base} did not answer within ${timeoutMs} ms`);
    }
    throw new AdminError(`cannot reach node at ${base} (${connectFailure(err)})`);
  }
  let data: unknown = res.text === '' ? undefined : res.text;
  try {
    if (res.text !== '') data = JSON.parse(res.text);
  } catch {
    // not JSON: keep the text, e.g. a proxy's error page
  }
  if (res.status < 200 || res.status > 299) {
    const body = (typeof data === 'object' && data !== null ? data : {}) as { error?: unknown; message?: unknown };
    const detail = body.message ?? body.error ?? (typeof data === 'string' ? data.split('\n')[0] : undefined);
    throw new AdminError(typeof detail === 'string' && detail ? detail : `HTTP ${res.status} ${res.statusText}`);
  }
  return data;
}

// ---- commander wiring ------------------------------------------------------

interface AdminFlags {
  url: string;
  json?: boolean;
  timeout: number;
}

async function run(command: AdminCommand, args: unknown[], flags: AdminFlags): Promise<void> {
  try {
    const data = await callAdmin(flags.url, command.call(args), flags.timeout);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(data ?? {}, null, 2)}\n`);
    } else {
      const out = data === undefined ? 'ok' : (command.render ?? renderValue)(data);
      process.stdout.write(`${out}\n`);
    }
  } catch (err) {
    if (!(err instanceof AdminError)) throw err;
    process.stderr.write(`rkv admin: ${err.message}\n`);
    process.exitCode = 1;
  }
}

/** `cluster join` relative to `admin`, for the flattened command list in help. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.name() !== 'admin'; c = c.parent) names.unshift(c.name());
  const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`));
  return [...names, ...args].join(' ');
}

function leaves(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => (c.commands.length > 0 ? leaves(c) : [c]));
}

export function register(program: Command): void {
  const admin = program
    .command('admin')
    .description('inspect and change the cluster through a node (mirrors riak-admin)')
    .addOption(new Option('--url <url>', 'admin API of any node').default(DEFAULT_ADMIN_URL).env('RKV_ADMIN_URL'))
    .option('--json', 'print the API response as JSON instead of a table')
    .addOption(new Option('--timeout <ms>', 'give up after this long').default(60_000).argParser(positiveInt))
    .helpCommand(false)
    // List `cluster join <node>` etc. directly so one --help shows every command.
    .configureHelp({
      visibleCommands: (cmd: Command) => leaves(cmd),
      subcommandTerm: (cmd: Command) => commandPath(cmd),
    } satisfies Partial<Help>);

  const groups = new Map<string, Command>();
  for (const spec of ADMIN_COMMANDS) {
    const words = spec.name.split(' ');
    let parent = admin;
    for (const word of words.slice(0, -1)) {
      let group = groups.get(word);
      if (!group) {
        group = parent.command(word).description(`${word} commands`);
        groups.set(word, group);
      }
      parent = group;
    }
    const cmd = parent.command(words.at(-1)!).description(spec.description);
    for (const a of spec.args ?? []) cmd.addArgument(a);
    cmd.action(async (...params: unknown[]) => {
      const self = params.at(-1) as Command;
      await run(spec, params.slice(0, self.registeredArguments.length), self.optsWithGlobals<AdminFlags>());
    });
  }
}
