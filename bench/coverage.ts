/**
 * `npm run bench:coverage`: a coverage count over many keys on a 3-node
 * cluster. Starts three `rkv start` processes (RocksDB by default, free
 * ports, temp data dirs), joins them, loads BENCH_KEYS keys (default
 * 1,000,000) with pipelined MSET, then reports
 *   - keys/s of `count` (GET /admin/count/default) on an idle cluster, and
 *   - how much the p99 of concurrent GETs rises while the fold runs: GET
 *     latency for BENCH_SECONDS before, then during back-to-back counts.
 * Prints a table and writes bench-results/coverage-<timestamp>.csv.
 * Environment: BENCH_KEYS, BENCH_SECONDS (default 5), BENCH_BACKEND
 * (rocksdb|memory), BENCH_RING (default 64), BENCH_VALUE (bytes, default 100),
 * BENCH_GET_CLIENTS (default 4). A benchmark reports; it never fails on a number.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { build, type Histogram } from 'hdr-histogram-js';
import { HOST, freePort, onCleanup, runMain } from './support.js';

const MAIN = fileURLToPath(new URL('../node/src/cli/main.js', import.meta.url));
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BACKEND = process.env.BENCH_BACKEND ?? 'rocksdb';
const RING = Number(process.env.BENCH_RING ?? 64);
const VALUE_SIZE = Number(process.env.BENCH_VALUE ?? 100);
const GET_CLIENTS = Number(process.env.BENCH_GET_CLIENTS ?? 4);
const MSET_KEYS = 100;
const PIPELINE = 8;

interface Node {
  i: number;
  name: string;
  resp: number;
  http: number;
  cluster: number;
  dataDir: string;
  child: ChildProcess;
}

const nodes: Node[] = [];

function cleanup(): void {
  for (const n of nodes) {
    if (n.child.exitCode === null) n.child.kill('SIGKILL');
    fs.rmSync(n.dataDir, { recursive: true, force: true });
  }
  nodes.length = 0;
}
onCleanup(cleanup);

async function api<T>(n: Node, method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`http://${HOST}:${n.http}${p}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(600_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} on ${n.name}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startNode(i: number): Promise<Node> {
  const [resp, http, cluster] = [await freePort(), await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `rkv-bench-coverage-${i}-`));
  const name = `bench${i}@${HOST}`;
  const child = spawn(process.execPath, [MAIN, 'start', '--name', name, '--bind', HOST, '--resp-port', String(resp), '--http-port', String(http), '--cluster-port', String(cluster),
    '--data-dir', dataDir, '--backend', BACKEND, '--ring-size', String(RING), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const n: Node = { i, name, resp, http, cluster, dataDir, child };
  nodes.push(n);
  await until(`${name} ready`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    return (await fetch(`http://${HOST}:${http}/health/ready`)).ok ? true : undefined;
  });
  return n;
}

function redis(n: Node): Redis {
  return new Redis({ host: HOST, port: n.resp, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, commandTimeout: 60_000 });
}

const keyOf = (i: number) => `key:${i}`;
const value = 'v'.repeat(VALUE_SIZE);

/** Pipelined MSETs from one connection per node, PIPELINE commands in flight each. */
async function load(): Promise<number> {
  const started = Date.now();
  let next = 0;
  let lastReport = started;
  await Promise.all(
    nodes.map(async (n) => {
      const r = redis(n);
      await r.connect();
      try {
        const inFlight = new Set<Promise<unknown>>();
        while (next < KEYS) {
          const from = next;
          next = Math.min(KEYS, next + MSET_KEYS);
          const args: string[] = [];
          for (let i = from; i < next; i++) args.push(keyOf(i), value);
          const p = r.mset(...args).finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (inFlight.size >= PIPELINE) await Promise.race(inFlight);
          if (Date.now() - lastReport > 5000) {
            lastReport = Date.now();
            process.stdout.write(`  loaded ${next} of ${KEYS} keys (${Math.round(next / ((Date.now() - started) / 1000))}/s)\n`);
          }
        }
        await Promise.all(inFlight);
      } finally {
        r.disconnect();
      }
    }),
  );
  return (Date.now() - started) / 1000;
}

interface GetStats {
  ops: number;
  seconds: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  errors: number;
}

/** Closed-loop GETs of random loaded keys from GET_CLIENTS connections (spread over the nodes) until `stop()` is true. */
async function getLoad(stop: () => boolean): Promise<GetStats> {
  const h: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let errors = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: GET_CLIENTS }, async (_, c) => {
      const r = redis(nodes[c % nodes.length]!);
      await r.connect();
      let x = (c + 1) * 2654435761;
      try {
        while (!stop()) {
          x = (x * 1103515245 + 12345) % 2 ** 31;
          const t0 = process.hrtime.bigint();
          try {
            const v = await r.get(keyOf(x % KEYS));
            if (v !== value) errors++;
          } catch {
            errors++;
          }
          h.recordValue(Number((process.hrtime.bigint() - t0) / 1000n));
        }
      } finally {
        r.disconnect();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ms = (us: number) => us / 1000;
  const out = { ops: h.totalCount, seconds, p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), p999: ms(h.getValueAtPercentile(99.9)), max: ms(h.maxValue), errors };
  h.destroy();
  return out;
}

interface CountRun {
  seconds: number;
  count: number;
  partial: boolean;
}

async function count(n: Node): Promise<CountRun> {
  const t0 = Date.now();
  const r = await api<{ count: number; partial: boolean }>(n, 'GET', '/admin/count/default');
  return { seconds: (Date.now() - t0) / 1000, count: r.count, partial: r.partial };
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');

async function main(): Promise<void> {
  console.log(`coverage count: ${KEYS} keys of ${VALUE_SIZE} bytes, 3 nodes, ${BACKEND}, ring ${RING}, n_val 3; GET p99 from ${GET_CLIENTS} closed-loop clients\n`);
  const [n1, n2, n3] = [await startNode(1), await startNode(2), await startNode(3)];
  for (const j of [n2, n3]) await api(j, 'POST', '/admin/cluster/join', { node: `${n1.name.split('@')[0]}@${HOST}:${n1.cluster}` });
  await api(n1, 'GET', '/admin/cluster/plan');
  await api(n1, 'POST', '/admin/cluster/commit');
  await until('the cluster to settle', async () => {
    for (const n of nodes) {
      const t = await api<{ active: unknown[]; pending: unknown[] }>(n, 'GET', '/admin/transfers');
      const ms = await api<{ members: { status: string; ringPct: number; pendingPct: number }[] }>(n, 'GET', '/admin/member-status');
      if (t.active.length + t.pending.length > 0 || ms.members.length !== 3 || ms.members.some((m) => m.status !== 'valid' || m.ringPct !== m.pendingPct)) return undefined;
    }
    return true;
  }, 120_000);

  const loadS = await load();
  console.log(`loaded ${KEYS} keys in ${fmt(loadS, 1)} s (${fmt(KEYS / loadS)} keys/s)`);

  // the count on an otherwise idle cluster, from each node in turn
  const alone: CountRun[] = [];
  for (const n of nodes) alone.push(await count(n));
  const aloneS = alone.reduce((s, r) => s + r.seconds, 0) / alone.length;

  // GET latency before, then while counts run back to back (at least SECONDS, at least one count)
  const t0 = Date.now();
  const before = await getLoad(() => Date.now() - t0 >= SECONDS * 1000);
  const during: CountRun[] = [];
  let counting = true;
  const t1 = Date.now();
  const counts = (async () => {
    let i = 0;
    do during.push(await count(nodes[i++ % nodes.length]!));
    while (Date.now() - t1 < SECONDS * 1000);
    counting = false;
  })();
  const duringGets = await getLoad(() => !counting);
  await counts;
  const duringS = during.reduce((s, r) => s + r.seconds, 0) / during.length;

  const wrong = [...alone, ...during].filter((r) => r.count !== KEYS || r.partial);
  const rows: [string, string][] = [
    ['keys', String(KEYS)],
    ['load (pipelined MSET)', `${fmt(loadS, 1)} s, ${fmt(KEYS / loadS)} keys/s`],
    ['count, idle cluster', `${fmt(aloneS, 2)} s, ${fmt(KEYS / aloneS)} keys/s (${alone.length} runs)`],
    ['count, under GET load', `${fmt(duringS, 2)} s, ${fmt(KEYS / duringS)} keys/s (${during.length} runs)`],
    ['count results', wrong.length === 0 ? `all ${alone.length + during.length} = ${KEYS}, complete` : `WRONG: ${JSON.stringify(wrong)}`],
    ['GET before: ops/s', fmt(before.ops / before.seconds)],
    ['GET before: p50 / p99 / p99.9 / max ms', `${fmt(before.p50, 2)} / ${fmt(before.p99, 2)} / ${fmt(before.p999, 2)} / ${fmt(before.max, 2)}`],
    ['GET during count: ops/s', fmt(duringGets.ops / duringGets.seconds)],
    ['GET during count: p50 / p99 / p99.9 / max ms', `${fmt(duringGets.p50, 2)} / ${fmt(duringGets.p99, 2)} / ${fmt(duringGets.p999, 2)} / ${fmt(duringGets.max, 2)}`],
    ['GET p99 rise during count', `${fmt(duringGets.p99 - before.p99, 2)} ms (x${fmt(duringGets.p99 / before.p99, 2)})`],
    ['GET errors before / during', `${before.errors} / ${duringGets.errors}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log('');
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);

  const dir = path.join(process.cwd(), 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `coverage-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
  const csv = ['phase,keys,backend,ring,value_bytes,runs,seconds,keys_per_s,get_clients,get_ops_per_s,get_p50_ms,get_p99_ms,get_p999_ms,get_max_ms,get_errors,count_ok'];
  const ok = wrong.length === 0;
  csv.push(['load', KEYS, BACKEND, RING, VALUE_SIZE, 1, loadS.toFixed(3), (KEYS / loadS).toFixed(0), '', '', '', '', '', '', '', ''].join(','));
  csv.push(['count_idle', KEYS, BACKEND, RING, VALUE_SIZE, alone.length, aloneS.toFixed(3), (KEYS / aloneS).toFixed(0), '', '', '', '', '', '', '', ok].join(','));
  const g = (s: GetStats) => [GET_CLIENTS, (s.ops / s.seconds).toFixed(0), s.p50.toFixed(3), s.p99.toFixed(3), s.p999.toFixed(3), s.max.toFixed(3), s.errors];
  csv.push(['get_before', KEYS, BACKEND, RING, VALUE_SIZE, 1, before.seconds.toFixed(3), '', ...g(before), ''].join(','));
  csv.push(['get_during_count', KEYS, BACKEND, RING, VALUE_SIZE, during.length, duringGets.seconds.toFixed(3), (KEYS / duringS).toFixed(0), ...g(duringGets), ok].join(','));
  fs.writeFileSync(file, csv.join('\n') + '\n');
  console.log(`\nwrote ${file}`);

  await Promise.all(
    nodes.map(async (n) => {
      n.child.kill('SIGTERM');
      if (n.child.exitCode === null) await new Promise((r) => n.child.once('exit', r));
    }),
  );
}

runMain(main);
