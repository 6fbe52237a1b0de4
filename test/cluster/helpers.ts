/**
 * Real `rkv start` processes for the cluster tests: free ports on 127.0.0.1,
 * temp data dirs, readiness by polling /health/ready, the admin API over HTTP
 * and the real `rkv admin` CLI, bounded waits that fail with the last state
 * seen, and clean-up of every child even when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { callAdmin } from '../../node/src/cli/admin.js';
import { freePort as freePortOn } from '../support/free_port.js';

export const HOST = '127.0.0.1';
export const MAIN = fileURLToPath(new URL('../../node/src/cli/main.js', import.meta.url));

// ---- child bookkeeping: nothing outlives the test process -----------------

const children = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHook) {
    exitHook = true;
    const killAll = () => {
      for (const c of children) c.kill('SIGKILL');
    };
    process.once('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        killAll();
        process.exit(130);
      });
    }
  }
}

/** Children spawned without RKV_* from the environment, so a developer's settings can't leak in. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RKV_')));
}

/** Ports handed out by this process: the OS may give a just-released port again. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await freePortOn(HOST);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined, or fails after
 * `timeoutMs` with `what` and the last state `probe` reported through `seen`.
 */
export async function waitFor<T>(what: string, probe: (seen: (state: unknown) => void) => Promise<T | undefined>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown = '(nothing observed)';
  const seen = (s: unknown) => (last = s);
  for (;;) {
    try {
      // a probe that hangs must not outlive the deadline
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.max(0, deadline - Date.now()) + 1000)));
      const v = await Promise.race([probe(seen), expired]).finally(() => clearTimeout(timer));
      if (v !== undefined) return v;
    } catch (e) {
      last = `error: ${(e as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs ?? 20_000} ms waiting for ${what}; last state: ${typeof last === 'string' ? last : JSON.stringify(last, null, 1)}`);
    await sleep(opts.intervalMs ?? 100);
  }
}

// ---- nodes -----------------------------------------------------------------

export interface NodeOptions {
  /** node i is called rkv<i>@127.0.0.1 */
  index: number;
  backend?: 'memory' | 'rocksdb';
  ringSize?: number;
  secret?: string;
  /** added to `rkv start` */
  args?: string[];
}

export class TestNode {
  readonly name: string;
  child: ChildProcess | undefined;
  /** the last 64 KiB of stdout+stderr across all runs */
  log = '';
  private exited: Promise<number | null> = Promise.resolve(null);

  private constructor(
    readonly o: NodeOptions,
    readonly ports: { resp: number; http: number; cluster: number },
    readonly dataDir: string,
  ) {
    this.name = `rkv${o.index}@${HOST}`;
  }

  static async create(o: NodeOptions): Promise<TestNode> {
    const ports = { resp: await freePort(), http: await freePort(), cluster: await freePort() };
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `rkv-cluster-${o.index}-`));
    return new TestNode(o, ports, dataDir);
  }

  get url(): string {
    return `http://${HOST}:${this.ports.http}`;
  }

  /** What `cluster join` is given: name@host:clusterport. */
  get contact(): string {
    return `${this.name.split('@')[0]}@${HOST}:${this.ports.cluster}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns `rkv start` and waits for /health/ready. */
  async start(timeoutMs = 20_000): Promise<this> {
    const args = [MAIN, 'start', '--name', this.name, '--bind', HOST, '--resp-port', String(this.ports.resp), '--http-port', String(this.ports.http),
      '--cluster-port', String(this.ports.cluster), '--data-dir', this.dataDir, '--backend', this.o.backend ?? 'memory',
      '--ring-size', String(this.o.ringSize ?? 16), '--log-level', process.env.RKV_TEST_LOG_LEVEL ?? 'warn', ...(this.o.secret ? ['--cluster-secret', this.o.secret] : []), ...(this.o.args ?? [])];
    const child = spawn(process.execPath, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    this.child = child;
    // a test process whose test failed half-way must still be able to end (its exit hook kills the node)
    child.unref();
    (child.stdout as unknown as { unref(): void }).unref();
    (child.stderr as unknown as { unref(): void }).unref();
    // RKV_TEST_LOG_DIR=dir keeps every node's full output there (RKV_TEST_LOG_LEVEL sets the level, default warn)
    const logDir = process.env.RKV_TEST_LOG_DIR;
    const append = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-65536);
      if (logDir) fs.appendFileSync(path.join(logDir, `${this.name}.log`), d);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    await waitFor(`${this.name} ready`, async (seen) => {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}: ${this.log.slice(-2000)}`);
      const res = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch((e: Error) => e);
      seen(res instanceof Error ? res.message : res.status);
      return res instanceof Response && res.ok ? true : undefined;
    }, { timeoutMs, intervalMs: 50 }).catch((e: Error) => {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}: ${this.log.slice(-2000)}`);
      throw e;
    });
    return this;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  async stop(timeoutMs = 10_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    child.ref(); // unref'd while running (see start), but its exit is awaited now
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** kill -9: no shutdown at all. */
  async kill9(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.ref();
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Same name, data dir and ports. */
  async restart(): Promise<this> {
    await this.stop();
    return this.start();
  }

  /** Same name and data dir, new ports (as a pod that comes back with a new IP). */
  async restartOnNewPorts(): Promise<this> {
    await this.stop();
    Object.assign(this.ports, { resp: await freePort(), http: await freePort(), cluster: await freePort() });
    return this.start();
  }

  /** Stops the process and removes its data dir. */
  async destroy(): Promise<void> {
    await this.stop(5000);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  // ---- admin API (HTTP) and the rkv admin CLI -------------------------------

  api<T = unknown>(method: 'GET' | 'POST' | 'PUT', p: string, body?: unknown): Promise<T> {
    return callAdmin(this.url, { method, path: p, ...(body === undefined ? {} : { body }) }, 10_000) as Promise<T>;
  }

  /** Runs the real `rkv admin --json --url <this node> ...args`; rejects with its stderr on a non-zero exit. */
  async cli<T = unknown>(...args: string[]): Promise<T> {
    const r = await rkvCli(['admin', '--url', this.url, '--json', ...args]);
    if (r.code !== 0) throw new Error(`rkv admin ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as T;
  }

  memberStatus(): Promise<MemberStatus> {
    return this.api<MemberStatus>('GET', '/admin/member-status');
  }

  transfers(): Promise<Transfers> {
    return this.api<Transfers>('GET', '/admin/transfers');
  }

  vnodeStatus(): Promise<VnodeStatus> {
    return this.api<VnodeStatus>('GET', '/admin/vnode-status');
  }

  redis(): Redis {
    return new Redis({ host: HOST, port: this.ports.resp, lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true, retryStrategy: () => null, connectTimeout: 5000, commandTimeout: 10_000 });
  }
}

export interface MemberRow {
  name: string;
  status: string;
  ringPct: number;
  pendingPct: number;
  reachable: boolean;
}
export type MemberStatus = { members: MemberRow[] };
export interface TransferRow {
  type: string;
  partition: number;
  from: string;
  to: string;
  status: string;
  objects: number;
  bytes: number;
}
export type Transfers = { active: TransferRow[]; pending: TransferRow[]; unreachable: { node: string; error: string }[] };
export type VnodeStatus = { node: string; vnodes: { partition: number; owner: string; primary: boolean; entries: number }[] };

export function rkvCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { env: cleanEnv() });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// ---- cluster-level waits -----------------------------------------------------

/**
 * Waits until every node in `nodes` sees exactly `expected` as members, all
 * valid and reachable, ownership balanced (floor or ceil of ringSize/m
 * partitions each), nothing pending, and no transfer active or pending.
 */
export async function waitConverged(nodes: TestNode[], expected: string[], opts: { ringSize?: number; timeoutMs?: number } = {}): Promise<MemberStatus> {
  const S = opts.ringSize ?? 16;
  const m = expected.length;
  const lo = (Math.floor(S / m) / S) * 100 - 0.1;
  const hi = (Math.ceil(S / m) / S) * 100 + 0.1;
  const want = [...expected].sort().join(',');
  return waitFor(`members [${want}] to converge on ${nodes.map((n) => n.name).join(', ')}`, async (seen) => {
    let first: MemberStatus | undefined;
    const states: Record<string, unknown> = {};
    for (const n of nodes) {
      const ms = await n.memberStatus();
      first ??= ms;
      states[n.name] = ms.members.map((x) => `${x.name} ${x.status} ${x.ringPct}%/${x.pendingPct}%${x.reachable ? '' : ' unreachable'}`);
      seen(states);
      if (ms.members.map((x) => x.name).sort().join(',') !== want) return undefined;
      if (!ms.members.every((x) => x.status === 'valid' && x.reachable && x.ringPct === x.pendingPct && x.ringPct >= lo && x.ringPct <= hi)) return undefined;
    }
    for (const n of nodes) {
      const t = await n.transfers();
      if (t.active.length + t.pending.length > 0) {
        states[`${n.name} transfers`] = t;
        seen(states);
        return undefined;
      }
    }
    return first;
  }, { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 200 }).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs(nodes)}`);
  });
}

/** Every node's transfers empty (active and pending). */
export async function waitNoTransfers(nodes: TestNode[], timeoutMs = 30_000): Promise<void> {
  await waitFor('no transfers', async (seen) => {
    for (const n of nodes) {
      const t = await n.transfers();
      seen({ [n.name]: t });
      if (t.active.length + t.pending.length > 0) return undefined;
    }
    return true;
  }, { timeoutMs, intervalMs: 200 }).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs(nodes)}`);
  });
}

// ---- data --------------------------------------------------------------------

export const keyName = (i: number) => `k${i}`;
/** Value size in bytes: 0 for a short `v<i>`, a number, or a function of the key index. */
export type ValueSize = number | ((i: number) => number);
export const valueOf = (i: number, size: ValueSize = 0) => {
  const n = typeof size === 'function' ? size(i) : size;
  return n > 0 ? `v${i}-`.padEnd(n, String.fromCharCode(97 + (i % 26))) : `v${i}`;
};

/** SETs keys [from, to] through one pipelined connection. */
export async function writeKeys(node: TestNode, from: number, to: number, valueSize: ValueSize = 0, chunk = 200): Promise<void> {
  const r = node.redis();
  try {
    await r.connect();
    for (let i = from; i <= to; i += chunk) {
      const p = r.pipeline();
      for (let j = i; j <= Math.min(to, i + chunk - 1); j++) p.set(keyName(j), valueOf(j, valueSize));
      const res = await p.exec();
      for (const [err] of res ?? []) if (err) throw err;
    }
  } finally {
    r.disconnect();
  }
}

/** The keys in [from, to] that `node` does not return with the expected value (MGET in chunks). */
export async function missingKeys(node: TestNode, from: number, to: number, valueSize: ValueSize = 0, chunk = 100): Promise<string[]> {
  const r = node.redis();
  const missing: string[] = [];
  try {
    await r.connect();
    for (let i = from; i <= to; i += chunk) {
      const keys: string[] = [];
      for (let j = i; j <= Math.min(to, i + chunk - 1); j++) keys.push(keyName(j));
      const vals = await r.mget(...keys);
      keys.forEach((k, x) => {
        if (vals[x] !== valueOf(Number(k.slice(1)), valueSize)) missing.push(k);
      });
    }
  } finally {
    r.disconnect();
  }
  return missing;
}

/** Non-empty vnodes on `node` that it does not own (should be none once transfers are over). */
export async function strayVnodes(node: TestNode): Promise<VnodeStatus['vnodes']> {
  const s = await node.vnodeStatus();
  return s.vnodes.filter((v) => v.entries > 0 && (!v.primary || v.owner !== node.name));
}

/** Starts `count` nodes (indexes first..first+count-1) in parallel. */
export async function startNodes(first: number, count: number, o: Omit<NodeOptions, 'index'> = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await TestNode.create({ ...o, index: first + i }));
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (e) {
    await Promise.all(nodes.map((n) => n.destroy()));
    throw e;
  }
  return nodes;
}

/** Joins `joiners` to `seed` through the admin API, then plans and commits at the seed. */
export async function joinAll(seed: TestNode, joiners: TestNode[]): Promise<void> {
  for (const j of joiners) await j.api('POST', '/admin/cluster/join', { node: seed.contact });
  await seed.api('GET', '/admin/cluster/plan');
  await seed.api('POST', '/admin/cluster/commit');
}

/** The tail of every node's log, for assertion messages. */
export function logs(nodes: TestNode[], chars = 1500): string {
  return nodes.map((n) => `--- ${n.name}\n${n.log.slice(-chars)}`).join('\n');
}
