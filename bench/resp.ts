/**
 * RESP throughput of rkv next to redis-server, both measured with the same
 * redis-benchmark runs: `npm run bench:resp` (BENCH_REQUESTS=20000 for a quick
 * run, BENCH_ROUNDS=1 for one round instead of 3). Prints a table and writes
 * bench-results/resp-<timestamp>.csv.
 * A benchmark reports; it never fails on a missed target.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HOST, freePort, runMain, startChild, startRedis, stopChild, tempDir, waitForPing } from './support.js';

const run = promisify(execFile);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200_000);
const CLIENTS = 50;
/** Rounds of the three back-to-back runs per row; a row shows the round with the median rkv/redis ratio. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const MAIN = fileURLToPath(new URL('../node/src/cli/main.js', import.meta.url));
const PLAIN = fileURLToPath(new URL('./plain_resp.js', import.meta.url));

interface Result {
  rps: number;
  p50: number;
  p99: number;
}
type Results = Map<string, Result>;

async function startRkv(extra: string[]): Promise<{ port: number; child: ChildProcess }> {
  const [port, http, cluster] = [await freePort(), await freePort(), await freePort()];
  const dataDir = tempDir('rkv-bench-');
  const args = [MAIN, 'start', ...extra, '--resp-port', String(port), '--http-port', String(http), '--cluster-port', String(cluster), '--data-dir', dataDir, '--log-level', 'warn'];
  const child = startChild(process.execPath, args);
  await waitForPing(port, child, `rkv (${extra.join(' ')})`);
  return { port, child };
}

/** Parses redis-benchmark --csv output by its header, so column order does not matter. */
export function parseBenchCsv(text: string): Results {
  const rows = text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('"'))
    .map((l) => l.split(',').map((c) => c.replace(/^"|"$/g, '')));
  const header = rows.shift() ?? [];
  const col = (name: string): number => header.indexOf(name);
  const [rps, p50, p99] = [col('rps'), col('p50_latency_ms'), col('p99_latency_ms')];
  if (rps < 0) throw new Error(`unexpected redis-benchmark output: ${text.slice(0, 200)}`);
  const out: Results = new Map();
  for (const r of rows) out.set(r[0]!, { rps: Number(r[rps]), p50: Number(r[p50] ?? NaN), p99: Number(r[p99] ?? NaN) });
  return out;
}

async function benchmark(port: number, pipeline: number): Promise<Results> {
  const args = ['-h', HOST, '-p', String(port), '-t', 'set,get', '-c', String(CLIENTS), '-n', String(REQUESTS), '--csv'];
  if (pipeline > 1) args.push('-P', String(pipeline));
  const { stdout } = await run('redis-benchmark', args, { maxBuffer: 16 * 1024 * 1024 });
  return parseBenchCsv(stdout);
}

interface Row {
  set: string;
  test: string;
  redis?: Result;
  /** the plain Node RESP loop: what one Node event loop reaches here */
  plain?: Result;
  rkv?: Result;
  target: number;
  /** rkv/redis of every round, in the order run */
  ratios: number[];
  note?: string;
}

const fmt = (n: number | undefined, digits = 0): string => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

function printTable(rows: Row[]): void {
  const head = ['rows', 'test', 'redis ops/s', 'node loop ops/s', 'rkv ops/s', 'rkv/redis', 'rounds', 'target', 'loop/redis', 'rkv/loop', 'redis p50/p99 ms', 'rkv p50/p99 ms', ''];
  const x = (a: Result | undefined, b: Result | undefined): string => (a && b ? `${(a.rps / b.rps).toFixed(2)}x` : '-');
  const lines = rows.map((r) => {
    const ratio = r.redis && r.rkv ? r.rkv.rps / r.redis.rps : undefined;
    const verdict = ratio === undefined ? (r.note ?? 'n/a') : ratio >= r.target ? 'ok' : 'BELOW TARGET';
    return [
      r.set,
      r.test,
      fmt(r.redis?.rps),
      fmt(r.plain?.rps),
      fmt(r.rkv?.rps),
      ratio === undefined ? '-' : `${ratio.toFixed(2)}x`,
      r.ratios.length > 1 ? `${Math.min(...r.ratios).toFixed(2)}-${Math.max(...r.ratios).toFixed(2)}x` : '-',
      `>=${r.target}x`,
      x(r.plain, r.redis),
      x(r.rkv, r.plain),
      `${fmt(r.redis?.p50, 3)}/${fmt(r.redis?.p99, 3)}`,
      `${fmt(r.rkv?.p50, 3)}/${fmt(r.rkv?.p99, 3)}`,
      verdict,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(line(l));
}

function writeCsv(rows: Row[]): string {
  const dir = path.join(process.cwd(), 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `resp-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
  const out = ['rows,test,requests,clients,redis_rps,node_loop_rps,rkv_rps,ratio,round_ratios,target,loop_ratio,redis_p50_ms,redis_p99_ms,rkv_p50_ms,rkv_p99_ms,note'];
  for (const r of rows) {
    const ratio = r.redis && r.rkv ? (r.rkv.rps / r.redis.rps).toFixed(3) : '';
    const loop = r.redis && r.plain ? (r.plain.rps / r.redis.rps).toFixed(3) : '';
    out.push(
      [r.set, r.test, REQUESTS, CLIENTS, r.redis?.rps ?? '', r.plain?.rps ?? '', r.rkv?.rps ?? '', ratio, r.ratios.map((x) => x.toFixed(3)).join(' '), r.target, loop, r.redis?.p50 ?? '', r.redis?.p99 ?? '', r.rkv?.p50 ?? '', r.rkv?.p99 ?? '', r.note ?? ''].join(','),
    );
  }
  fs.writeFileSync(file, out.join('\n') + '\n');
  return file;
}

/**
 * One row per test from the rounds of a set: the round whose rkv/redis ratio
 * is the median, so the figures of a row come from one round and one outlier
 * round (a noisy neighbour on a shared machine) does not decide it.
 */
function addRows(rows: Row[], set: string, target: number, rounds: Partial<Trio>[], note?: string): void {
  for (const test of ['SET', 'GET']) {
    const row: Row = { set, test, target, ratios: [] };
    const measured = rounds
      .map((t) => ({ redis: t.redis?.get(test), plain: t.plain?.get(test), rkv: t.rkv?.get(test) }))
      .filter((m): m is { redis: Result; plain: Result | undefined; rkv: Result } => m.redis !== undefined && m.rkv !== undefined);
    row.ratios = measured.map((m) => m.rkv.rps / m.redis.rps);
    const byRatio = [...measured].sort((a, b) => a.rkv.rps / a.redis.rps - b.rkv.rps / b.redis.rps);
    const median = byRatio[Math.floor((byRatio.length - 1) / 2)];
    if (median) {
      row.redis = median.redis;
      row.rkv = median.rkv;
      if (median.plain) row.plain = median.plain;
    }
    if (note) row.note = note;
    rows.push(row);
  }
}

/** redis-server, the plain Node loop and rkv measured back to back, so all see the same load on a shared machine. */
interface Trio {
  redis: Results;
  plain: Results;
  rkv: Results;
}

/** The rounds of each pipeline depth, in the order given. */
async function withRkv(extra: string[], redisPort: number, plainPort: number, pipelines: number[]): Promise<Trio[][] | string> {
  let node: { port: number; child: ChildProcess } | undefined;
  try {
    node = await startRkv(extra);
    const out: Trio[][] = [];
    for (const p of pipelines) {
      const rounds: Trio[] = [];
      for (let r = 0; r < ROUNDS; r++) rounds.push({ redis: await benchmark(redisPort, p), plain: await benchmark(plainPort, p), rkv: await benchmark(node.port, p) });
      out.push(rounds);
    }
    return out;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    if (node) await stopChild(node.child);
  }
}

async function main(): Promise<void> {
  console.log(
    `redis-benchmark -t set,get -c ${CLIENTS} -n ${REQUESTS} against redis-server, a plain Node RESP loop (bench/plain_resp.ts) and rkv, back to back, ${ROUNDS} rounds; each row is the round with the median rkv/redis\n`,
  );
  const redis = await startRedis();
  const plainPort = await freePort();
  const plain = startChild(process.execPath, [PLAIN, String(plainPort)]);
  await waitForPing(plainPort, plain, 'plain Node RESP loop');
  const rows: Row[] = [];
  const configs: { extra: string[]; sets: { name: string; pipeline: number; target: number }[] }[] = [
    {
      extra: ['--backend', 'memory', '--n-val', '1', '--r', '1', '--w', '1'],
      sets: [
        { name: 'memory n1', pipeline: 1, target: 0.8 },
        { name: 'memory n1 -P 16', pipeline: 16, target: 0.4 },
      ],
    },
    { extra: ['--backend', 'rocksdb', '--n-val', '3'], sets: [{ name: 'rocksdb n3', pipeline: 1, target: 0.5 }] },
  ];
  for (const c of configs) {
    const res = await withRkv(
      c.extra,
      redis.port,
      plainPort,
      c.sets.map((x) => x.pipeline),
    );
    c.sets.forEach((x, i) => {
      if (typeof res === 'string') addRows(rows, x.name, x.target, [], res);
      else addRows(rows, x.name, x.target, res[i]!);
    });
  }
  await stopChild(redis.child);
  await stopChild(plain);

  printTable(rows);
  console.log(`\nwrote ${writeCsv(rows)}`);
}

runMain(main);
