/**
 * `rkv dev-cluster --nodes N`: N `rkv start` children on 127.0.0.1 for local
 * development (Riak's devrel). Node i is `rkv<i>@127.0.0.1` with its data in
 * `<data-dir>/rkv<i>` and ports base+10*i (RESP), base+10*i+1 (HTTP) and
 * base+10*i+2 (cluster). Output is prefixed with `[rkv<i>]`. `--join` joins
 * nodes 2..N to node 1, then plans and commits through the admin API.
 * Ctrl-C / SIGTERM stops every child cleanly and exits 0.
 *
 * The children run in their own process group, so a Ctrl-C at the terminal
 * reaches only this process, which then sends each child exactly one SIGTERM
 * (a second signal would make `rkv start` exit at once, unflushed). The
 * flip side: if dev-cluster is killed with SIGKILL, its nodes keep running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { callAdmin } from './admin.js';
import { formatTable } from './table.js';

const HOST = '127.0.0.1';
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface DevNode {
  index: number;
  name: string;
  resp: number;
  http: number;
  cluster: number;
  dataDir: string;
}

/** The port scheme: node i (from 1) uses base+10*i, +1 and +2. */
export function devNodes(count: number, basePort: number, dataDir: string): DevNode[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    const p = basePort + 10 * i;
    return { index: i, name: `rkv${i}@${HOST}`, resp: p, http: p + 1, cluster: p + 2, dataDir: join(dataDir, `rkv${i}`) };
  });
}

interface DevFlags {
  nodes: number;
  basePort: number;
  dataDir: string;
  ringSize: number;
  backend: 'rocksdb' | 'memory';
  logLevel: string;
  join?: boolean;
}

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    return n;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Copies a child's output line by line with a `[rkv<i>] ` prefix. */
function prefixLines(stream: NodeJS.ReadableStream, out: NodeJS.WriteStream, prefix: string): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const l of lines) out.write(`${prefix}${l}\n`);
  });
  stream.on('end', () => {
    if (partial) out.write(`${prefix}${partial}\n`);
  });
}

async function waitReady(n: DevNode, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${n.name} exited during startup (code ${child.exitCode ?? child.signalCode}); see its output above`);
    const ok = await callAdmin(`http://${HOST}:${n.http}`, { method: 'GET', path: '/health/ready' }, 1000).then(() => true, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${n.name} not ready after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/** Joins 2..N to node 1 (skipping those already in its ring), then plans and commits if anything was staged. */
async function joinAll(nodes: DevNode[]): Promise<string> {
  const [first, ...rest] = nodes as [DevNode, ...DevNode[]];
  const url = (n: DevNode) => `http://${HOST}:${n.http}`;
  const members = (await callAdmin(url(first), { method: 'GET', path: '/admin/member-status' }, 10_000)) as { members: { name: string }[] };
  const known = new Set(members.members.map((m) => m.name));
  let staged = 0;
  for (const n of rest) {
    if (known.has(n.name)) continue;
    await callAdmin(url(n), { method: 'POST', path: '/admin/cluster/join', body: { node: `${first.name.split('@')[0]}@${HOST}:${first.cluster}` } }, 10_000);
    staged++;
  }
  if (staged === 0) return `all ${nodes.length} nodes are already members of one cluster`;
  const plan = (await callAdmin(url(first), { method: 'GET', path: '/admin/cluster/plan' }, 10_000)) as { summary?: string };
  await callAdmin(url(first), { method: 'POST', path: '/admin/cluster/commit' }, 10_000);
  return `joined ${staged} node(s) to ${first.name} and committed: ${plan.summary ?? ''}`;
}

export async function devCluster(flags: DevFlags, startArgs: string[]): Promise<void> {
  const dataRoot = resolve(flags.dataDir);
  const nodes = devNodes(flags.nodes, flags.basePort, dataRoot);
  const children = new Map<DevNode, ChildProcess>();
  let stopping = false;
  const say = (line: string) => process.stdout.write(`[dev-cluster] ${line}\n`);

  const stopAll = async (code: number): Promise<never> => {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    say('stopping all nodes');
    const exits = [...children].map(([n, c]) => {
      if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode ?? 1);
      return new Promise<number>((r) => {
        const timer = setTimeout(() => {
          say(`${n.name} did not stop within 15 s; killing it`);
          c.kill('SIGKILL');
        }, 15_000);
        c.once('exit', (exit) => {
          clearTimeout(timer);
          r(exit ?? 1);
        });
        c.kill('SIGTERM');
      });
    });
    const codes = await Promise.all(exits);
    say(codes.every((c) => c === 0) ? 'all nodes stopped cleanly' : `nodes stopped with exit codes ${codes.join(', ')}`);
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  // if this process dies some other way, the children (in their own process group) must not outlive it
  process.on('exit', () => {
    for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  });

  process.stdout.write(
    `${formatTable(nodes.map((n) => ({ node: n.name, resp: `${HOST}:${n.resp}`, http: `http://${HOST}:${n.http}`, cluster: `${HOST}:${n.cluster}`, 'data dir': n.dataDir })))}\n`,
  );
  for (const n of nodes) {
    mkdirSync(n.dataDir, { recursive: true });
    const args = [MAIN, 'start', '--name', n.name, '--bind', HOST, '--resp-port', String(n.resp), '--http-port', String(n.http), '--cluster-port', String(n.cluster),
      '--data-dir', n.dataDir, '--ring-size', String(flags.ringSize), '--backend', flags.backend, '--log-level', flags.logLevel, ...startArgs];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.set(n, child);
    prefixLines(child.stdout!, process.stdout, `[rkv${n.index}] `);
    prefixLines(child.stderr!, process.stderr, `[rkv${n.index}] `);
    child.on('exit', (code, signal) => {
      if (!stopping) say(`${n.name} exited (${signal ?? `code ${code}`}); the other nodes keep running`);
    });
  }
  try {
    await Promise.all(nodes.map((n) => waitReady(n, children.get(n)!, 60_000)));
    say(`${nodes.length} node(s) ready`);
    if (flags.join && nodes.length > 1) say(await joinAll(nodes));
  } catch (e) {
    process.stderr.write(`rkv dev-cluster: ${(e as Error).message}\n`);
    await stopAll(1);
  }
  const admin = `rkv admin --url http://${HOST}:${nodes[0]!.http}`;
  say(`try: redis-cli -p ${nodes[0]!.resp} set foo bar; ${admin} member-status; ${admin} transfers; Ctrl-C stops all nodes`);
}

export function register(program: Command): void {
  program
    .command('dev-cluster')
    .description('run N local nodes (rkv<i>@127.0.0.1) for development; Ctrl-C stops them all')
    .addOption(new Option('--nodes <n>', 'number of nodes').argParser(intArg(1, 50)).default(3))
    .addOption(new Option('--base-port <port>', 'node i listens on base+10i (RESP), +1 (HTTP), +2 (cluster)').argParser(intArg(1, 65_000)).default(10_000))
    .addOption(new Option('--data-dir <dir>', 'node i keeps its data in <dir>/rkv<i>').default('./data/dev'))
    .addOption(new Option('--ring-size <n>', 'partitions (power of two, 8..1024)').argParser(intArg(8, 1024)).default(16))
    .addOption(new Option('--backend <name>', 'storage backend').choices(['rocksdb', 'memory']).default('rocksdb'))
    .addOption(new Option('--log-level <level>', 'log level of the nodes').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'))
    .option('--join', 'join nodes 2..N to node 1, then plan and commit')
    .argument('[start-args...]', 'after --: more `rkv start` flags for every node, e.g. -- --n-val 2')
    .addHelpText('after', '\nExample:\n  rkv dev-cluster --nodes 3 --join\n  rkv admin --url http://127.0.0.1:10011 member-status')
    .action(async (startArgs: string[], flags: DevFlags) => {
      const maxPort = flags.basePort + 10 * flags.nodes + 2;
      if (maxPort > 65_535) throw new Error(`--base-port ${flags.basePort} with ${flags.nodes} nodes needs ports up to ${maxPort}`);
      await devCluster(flags, startArgs);
    });
}
