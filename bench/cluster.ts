/**
 * `npm run bench:cluster`: a 3-node rkv cluster on loopback (child processes,
 * RocksDB, n_val 3, r=w=2) next to a single redis-server, both measured in the
 * same run with the same load:
 *  - redis-benchmark `-t set,get -c 50 -n N -r KEYS`, three processes at once
 *    (one per rkv RESP port; all three on the one redis-server port), ops/s
 *    summed, percentiles merged from the three latency distributions;
 *  - the rkv bench tool's mixed workload over RESP (`--ops get:2,put:1`),
 *    spread over the three RESP ports (all workers on redis-server's).
 * Prints a table (ops/s and p50/p99/p99.9 per operation) and writes
 * bench-results/cluster-<timestamp>.csv. BENCH_REQUESTS (per redis-benchmark
 * process, default 100000), BENCH_DURATION (mixed workload, default 10s) and
 * BENCH_WORKERS (default 30) shrink or grow it. A benchmark reports; it never
 * fails on a number.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HOST, freePort, runMain, sleep, startChild, startRedis, stopChild, tempDir, waitForPing } from './support.js';

const run = promisify(execFile);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000);
const DURATION = process.env.BENCH_DURATION ?? '10s';
const WORKERS = Number(process.env.BENCH_WORKERS ?? 30);
const CLIENTS = 50;
const KEYSPACE = 100_000;
const MAIN = fileURLToPath(new URL('../node/src/cli/main.js', import.meta.url));

// ---- processes -------------------------------------------------------------

interface RkvNode {
  name: string;
  resp: number;
  http: number;
  cluster: number;
  child: ChildProcess;
}

async function admin(node: RkvNode, method: 'GET' | 'POST', p: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`http://${HOST}:${node.http}${p}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} on ${node.name}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function startRkvNode(i: number): Promise<RkvNode> {
  const [resp, http, cluster] = [await freePort(), await freePort(), await freePort()];
  const dataDir = tempDir(`rkv-bench-cluster-${i}-`);
  const name = `bench${i}@${HOST}`;
  const child = startChild(process.execPath, [MAIN, 'start', '--name', name, '--bind', HOST, '--backend', 'rocksdb', '--n-val', '3', '--r', '2', '--w', '2',
    '--resp-port', String(resp), '--http-port', String(http), '--cluster-port', String(cluster), '--data-dir', dataDir, '--log-level', 'warn']);
  await waitForPing(resp, child, name);
  return { name, resp, http, cluster, child };
}

async function startRkvCluster(): Promise<RkvNode[]> {
  const nodes = await Promise.all([1, 2, 3].map(startRkvNode));
  const seed = nodes[0]!;
  for (const n of nodes.slice(1)) await admin(n, 'POST', '/admin/cluster/join', { node: `bench1@${HOST}:${seed.cluster}` });
  await admin(seed, 'GET', '/admin/cluster/plan');
  await admin(seed, 'POST', '/admin/cluster/commit');
  const deadline = Date.now() + 60_000;
  for (;;) {
    let settled = true;
    for (const n of nodes) {
      const ms = (await admin(n, 'GET', '/admin/member-status')) as { members: { status: string; reachable: boolean; ringPct: number; pendingPct: number }[] };
      const t = (await admin(n, 'GET', '/admin/transfers')) as { active: unknown[]; pending: unknown[] };
      if (ms.members.length !== 3 || !ms.members.every((m) => m.status === 'valid' && m.reachable && m.ringPct === m.pendingPct) || t.active.length + t.pending.length > 0) settled = false;
    }
    if (settled) return nodes;
    if (Date.now() > deadline) throw new Error('the 3-node cluster did not settle within 60s');
    await sleep(250);
  }
}

// ---- measurements --------------------------------------------------------------

interface Measure {
  opsPerS: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  ops: number;
}

/** One redis-benchmark test's latency distribution: [percentile, ms, cumulative count]. */
interface BenchTest {
  rps: number;
  requests: number;
  dist: [number, number, number][];
}

/** Parses redis-benchmark's default (non-csv) report, which has the percentile distribution down to p99.9+. */
export function parseBenchReport(text: string): Map<string, BenchTest> {
  const out = new Map<string, BenchTest>();
  const sections = text.split(/====== (\S+) ======/);
  for (let i = 1; i + 1 < sections.length; i += 2) {
    const name = sections[i]!;
    const body = sections[i + 1]!;
    const rps = /throughput summary: ([\d.]+) requests per second/.exec(body);
    const requests = /(\d+) requests completed in/.exec(body);
    const dist: [number, number, number][] = [];
    const distText = body.split('Latency by percentile distribution:')[1]?.split('Cumulative distribution')[0] ?? '';
    for (const m of distText.matchAll(/([\d.]+)% <= ([\d.]+) milliseconds \(cumulative count (\d+)\)/g)) dist.push([Number(m[1]), Number(m[2]), Number(m[3])]);
    if (!rps || !requests || dist.length === 0) throw new Error(`unexpected redis-benchmark output for ${name}: ${body.slice(0, 300)}`);
    out.set(name, { rps: Number(rps[1]), requests: Number(requests[1]), dist });
  }
  return out;
}

/**
 * Percentile of the union of several runs' distributions: the smallest latency
 * at which the runs together have counted that share of their requests (each
 * run's count taken at its last point at or below it, so never optimistic).
 */
export function mergedPercentile(runs: BenchTest[], pct: number): number {
  const total = runs.reduce((a, r) => a + r.requests, 0);
  const want = (pct / 100) * total;
  const candidates = [...new Set(runs.flatMap((r) => r.dist.map((d) => d[1])))].sort((a, b) => a - b);
  for (const ms of candidates) {
    let count = 0;
    for (const r of runs) {
      let c = 0;
      for (const d of r.dist) if (d[1] <= ms) c = Math.max(c, d[2]);
      count += c;
    }
    if (count >= want) return ms;
  }
  return candidates[candidates.length - 1] ?? NaN;
}

async function redisBenchmark(port: number): Promise<{ tests: Map<string, BenchTest>; errors: number }> {
  const args = ['-h', HOST, '-p', String(port), '-t', 'set,get', '-c', String(CLIENTS), '-n', String(REQUESTS), '-r', String(KEYSPACE)];
  const { stdout, stderr } = await run('redis-benchmark', args, { maxBuffer: 64 * 1024 * 1024 });
  const errors = (stdout.match(/Error from server/g) ?? []).length + (stderr.match(/Error from server/g) ?? []).length;
  return { tests: parseBenchReport(stdout), errors };
}

/** Three redis-benchmark processes at once, one per port given. */
async function redisBenchmarks(ports: number[]): Promise<Map<string, Measure>> {
  const runs = await Promise.all(ports.map(redisBenchmark));
  const out = new Map<string, Measure>();
  for (const test of ['SET', 'GET']) {
    const per = runs.map((r) => r.tests.get(test)).filter((t): t is BenchTest => t !== undefined);
    if (per.length !== runs.length) continue;
    out.set(test, {
      opsPerS: per.reduce((a, t) => a + t.rps, 0),
      p50: mergedPercentile(per, 50),
      p99: mergedPercentile(per, 99),
      p999: mergedPercentile(per, 99.9),
      errors: runs.reduce((a, r) => a + r.errors, 0),
      ops: per.reduce((a, t) => a + t.requests, 0),
    });
  }
  return out;
}

interface BenchSummary {
  ops: Record<string, { ops: number; ops_per_s: number; errors: number; latency_us: { p50: number; p99: number; p99_9: number } }>;
}

/** The rkv bench tool's mixed workload; its summary.json gives ops/s and HdrHistogram percentiles per op. */
async function mixed(ports: number[], out: string): Promise<Map<string, Measure>> {
  const args = [MAIN, 'bench', '--targets', ports.map((p) => `${HOST}:${p}`).join(','), '--protocol', 'resp', '--ops', 'get:2,put:1', '--keys', `uniform:${KEYSPACE}`,
    '--value-size', 'fixed:100', '--workers', String(WORKERS), '--duration', DURATION, '--seed', '42', '--report-interval', '5s', '--no-charts', '--out', out];
  await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as BenchSummary;
  const res = new Map<string, Measure>();
  for (const [op, s] of Object.entries(summary.ops)) {
    res.set(op.toUpperCase(), { opsPerS: s.ops_per_s, p50: s.latency_us.p50 / 1000, p99: s.latency_us.p99 / 1000, p999: s.latency_us.p99_9 / 1000, errors: s.errors, ops: s.ops });
  }
  return res;
}

// ---- report ----------------------------------------------------------------------

interface Row {
  workload: string;
  op: string;
  redis?: Measure;
  rkv?: Measure;
  note?: string;
}

const fmt = (n: number | undefined, digits = 0): string => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));
const lat = (m: Measure | undefined): string => (m ? `${fmt(m.p50, 3)}/${fmt(m.p99, 3)}/${fmt(m.p999, 3)}` : '-');

function printTable(rows: Row[]): void {
  const head = ['workload', 'op', 'redis ops/s', 'rkv ops/s', 'rkv/redis', 'redis p50/p99/p99.9 ms', 'rkv p50/p99/p99.9 ms', 'rkv errors'];
  const lines = rows.map((r) => [
    r.workload,
    r.op,
    fmt(r.redis?.opsPerS),
    fmt(r.rkv?.opsPerS),
    r.redis && r.rkv ? `${(r.rkv.opsPerS / r.redis.opsPerS).toFixed(3)}x` : '-',
    lat(r.redis),
    lat(r.rkv),
    r.rkv ? String(r.rkv.errors) : (r.note ?? '-'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(line(l));
}

function writeCsv(rows: Row[], stamp: string): string {
  const dir = path.join(process.cwd(), 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `cluster-${stamp}.csv`);
  const out = ['workload,op,system,ops,ops_per_s,p50_ms,p99_ms,p999_ms,errors,note'];
  for (const r of rows) {
    for (const [system, m] of [['redis-server', r.redis], ['rkv-3-nodes', r.rkv]] as const) {
      out.push([r.workload, r.op, system, m?.ops ?? '', m ? m.opsPerS.toFixed(1) : '', m?.p50 ?? '', m?.p99 ?? '', m?.p999 ?? '', m?.errors ?? '', m ? '' : (r.note ?? '')].join(','));
    }
  }
  fs.writeFileSync(file, out.join('\n') + '\n');
  return file;
}

async function main(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const rbWorkload = `redis-benchmark 3x(-c ${CLIENTS} -n ${REQUESTS} -r ${KEYSPACE})`;
  const mixWorkload = `rkv bench get:2,put:1 ${WORKERS}w ${DURATION}`;
  console.log(`rkv 3 nodes (RocksDB, n_val 3, r=w=2, loopback) vs one redis-server, ${os.cpus().length} CPUs\n`);

  const redis = await startRedis();
  console.log('measuring redis-server ...');
  const redisRb = await redisBenchmarks([redis.port, redis.port, redis.port]);
  const redisMix = await mixed([redis.port], path.join('bench-results', `cluster-${stamp}`, 'mixed-redis'));
  await stopChild(redis.child);

  let rkvRb: Map<string, Measure> | undefined;
  let rkvMix: Map<string, Measure> | undefined;
  let failure: string | undefined;
  let nodes: RkvNode[] = [];
  try {
    console.log('starting the rkv cluster ...');
    nodes = await startRkvCluster();
    console.log('measuring rkv ...');
    rkvRb = await redisBenchmarks(nodes.map((n) => n.resp));
    rkvMix = await mixed(nodes.map((n) => n.resp), path.join('bench-results', `cluster-${stamp}`, 'mixed-rkv'));
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
    console.error(`rkv measurement failed: ${failure}`);
  } finally {
    await Promise.all(nodes.map((n) => stopChild(n.child)));
  }

  const rows: Row[] = [];
  const add = (workload: string, op: string, a: Map<string, Measure> | undefined, b: Map<string, Measure> | undefined) => {
    const row: Row = { workload, op };
    const x = a?.get(op);
    const y = b?.get(op);
    if (x) row.redis = x;
    if (y) row.rkv = y;
    if (!y && failure) row.note = failure.replace(/[,\n]/g, ' ');
    rows.push(row);
  };
  for (const op of ['SET', 'GET']) add(rbWorkload, op, redisRb, rkvRb);
  for (const op of ['GET', 'PUT']) add(mixWorkload, op, redisMix, rkvMix);
  console.log('');
  printTable(rows);
  console.log(`\nwrote ${writeCsv(rows, stamp)}`);
}

runMain(main);
