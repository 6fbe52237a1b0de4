/**
 * `npm run bench:handoff`: ownership handoff throughput. One RocksDB node is
 * filled with BENCH_BYTES (default 1 GiB) of 1 KiB values over RESP, then a
 * second node joins and the plan is committed. From the commit until no
 * transfer is left, the sender's handoff bytes (rkv_handoff_bytes_total plus
 * the bytes of handoffs still running, from /admin/transfers) are sampled;
 * the run reports MiB/s moved and the time until ownership is balanced, and
 * writes the samples to bench-results/handoff-<timestamp>.csv.
 *
 * Environment: BENCH_BYTES (e.g. 100MB, 1GiB), BENCH_VALUE_SIZE (1024),
 * BENCH_RING_SIZE (64), BENCH_N_VAL (3), BENCH_TRANSFER_LIMIT (2),
 * BENCH_LOG_LEVEL (warn), BENCH_KEEP=1 keeps the data dirs, BENCH_NODE_ARGS passes flags to the
 * nodes' node processes (e.g. --cpu-prof --cpu-prof-dir=prof).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { callAdmin } from '../node/src/cli/admin.js';
import { HOST, freePort, sleep } from './support.js';

const MAIN = fileURLToPath(new URL('../node/src/cli/main.js', import.meta.url));
const MIB = 1024 * 1024;

function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(s.trim());
  if (!m) throw new Error(`BENCH_BYTES: cannot read ${JSON.stringify(s)} (e.g. 100MB, 1GiB)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? MIB : unit.startsWith('g') ? 1024 * MIB : 1;
  return Math.round(Number(m[1]) * mult);
}

const env = process.env;
const BYTES = parseBytes(env.BENCH_BYTES ?? '1GiB');
const VALUE_SIZE = Number(env.BENCH_VALUE_SIZE ?? 1024);
const RING_SIZE = Number(env.BENCH_RING_SIZE ?? 64);
const N_VAL = Number(env.BENCH_N_VAL ?? 3);
const TRANSFER_LIMIT = Number(env.BENCH_TRANSFER_LIMIT ?? 2);
const KEYS = Math.max(1, Math.floor(BYTES / VALUE_SIZE));


interface BenchNode {
  name: string;
  resp: number;
  http: number;
  cluster: number;
  dataDir: string;
  child: ChildProcess;
  url: string;
}

const nodes: BenchNode[] = [];
process.on('exit', () => {
  for (const n of nodes) if (n.child.exitCode === null) n.child.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

async function startNode(i: number): Promise<BenchNode> {
  const [resp, http, cluster] = [await freePort(), await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `rkv-bench-handoff-${i}-`));
  const name = `rkv${i}@${HOST}`;
  const nodeArgs = env.BENCH_NODE_ARGS ? env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : [];
  const child = spawn(process.execPath, [...nodeArgs, MAIN, 'start', '--name', name, '--bind', HOST, '--resp-port', String(resp), '--http-port', String(http),
    '--cluster-port', String(cluster), '--data-dir', dataDir, '--backend', 'rocksdb', '--ring-size', String(RING_SIZE), '--n-val', String(N_VAL),
    '--log-level', env.BENCH_LOG_LEVEL ?? 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const n: BenchNode = { name, resp, http, cluster, dataDir, child, url: `http://${HOST}:${http}` };
  nodes.push(n);
  for (const deadline = Date.now() + 60_000; ; ) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    if (await callAdmin(n.url, { method: 'GET', path: '/health/ready' }, 1000).then(() => true, () => false)) return n;
    if (Date.now() > deadline) throw new Error(`${name} not ready within 60 s`);
    await sleep(100);
  }
}

const api = <T>(n: BenchNode, method: 'GET' | 'POST' | 'PUT', p: string, body?: unknown) =>
  callAdmin(n.url, { method, path: p, ...(body === undefined ? {} : { body }) }, 30_000) as Promise<T>;

/** Fills the node through CONNS pipelined connections; values are slices of one random pool (incompressible). */
async function fill(n: BenchNode): Promise<number> {
  const CONNS = 8;
  const BATCH = 256;
  const pool = randomBytes(4 * MIB);
  let next = 0;
  let written = 0;
  const started = Date.now();
  let lastReport = started;
  await Promise.all(
    Array.from({ length: CONNS }, async () => {
      const r = new Redis({ host: HOST, port: n.resp, lazyConnect: true, maxRetriesPerRequest: 2, commandTimeout: 60_000 });
      await r.connect();
      try {
        while (next < KEYS) {
          const from = next;
          const to = Math.min(KEYS, from + BATCH);
          next = to;
          const p = r.pipeline();
          for (let k = from; k < to; k++) {
            const off = (k * 7919) % (pool.length - VALUE_SIZE);
            p.set(`key${k}`, pool.subarray(off, off + VALUE_SIZE));
          }
          for (const [err] of (await p.exec()) ?? []) if (err) throw err;
          written += to - from;
          if (Date.now() - lastReport > 5000) {
            lastReport = Date.now();
            process.stdout.write(`  filled ${written}/${KEYS} keys (${((written * VALUE_SIZE) / MIB / ((Date.now() - started) / 1000)).toFixed(1)} MiB/s)\n`);
          }
        }
      } finally {
        r.disconnect();
      }
    }),
  );
  return (Date.now() - started) / 1000;
}

/** rkv_handoff_bytes_total{type="ownership"} from the Prometheus text. */
async function handoffBytesMetric(n: BenchNode): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^rkv_handoff_bytes_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (m && /type="ownership"/.test(m[1]!)) sum += Number(m[2]);
  }
  return sum;
}

/** rkv_backend_compactions_running and rkv_backend_compaction_pending_bytes from the Prometheus text. */
async function compactionWork(n: BenchNode): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^rkv_backend_(?:compactions_running|compaction_pending_bytes)\s+(\S+)/.exec(line);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

/** Waits (at most 5 min) until the node's RocksDB has had no compaction work for a second. */
async function settle(n: BenchNode): Promise<number> {
  const t0 = Date.now();
  let quietSince = 0;
  while (Date.now() - t0 < 300_000) {
    if ((await compactionWork(n)) > 0) quietSince = 0;
    else if (quietSince === 0) quietSince = Date.now();
    else if (Date.now() - quietSince >= 1000) break;
    await sleep(200);
  }
  return (Date.now() - t0) / 1000;
}

type Transfers = { active: { type: string; bytes: number }[]; pending: { type: string }[] };
type MemberStatus = { members: { name: string; ringPct: number; pendingPct: number }[] };

async function main(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  process.stdout.write(`handoff bench: ${KEYS} keys x ${VALUE_SIZE} B = ${(KEYS * VALUE_SIZE / MIB).toFixed(0)} MiB of values, n_val ${N_VAL}, ring ${RING_SIZE}, transfer-limit ${TRANSFER_LIMIT}\n`);
  const n1 = await startNode(1);
  const fillS = await fill(n1);
  process.stdout.write(`  filled in ${fillS.toFixed(1)} s (${(KEYS * VALUE_SIZE / MIB / fillS).toFixed(1)} MiB/s of values)\n`);
  const stored = (await api<{ vnodes: { entries: number }[] }>(n1, 'GET', '/admin/vnode-status')).vnodes.reduce((s, v) => s + v.entries, 0);
  // A node that has held its data for a while has no compaction backlog; the join is measured from that state.
  const settleS = await settle(n1);
  process.stdout.write(`  compactions after the fill settled in ${settleS.toFixed(1)} s\n`);

  const n2 = await startNode(2);
  await api(n1, 'PUT', '/admin/transfer-limit', { limit: TRANSFER_LIMIT });
  await api(n2, 'PUT', '/admin/transfer-limit', { limit: TRANSFER_LIMIT });
  await api(n2, 'POST', '/admin/cluster/join', { node: `rkv1@${HOST}:${n1.cluster}` });
  const plan = await api<{ transfers: unknown[] }>(n1, 'GET', '/admin/cluster/plan');
  const base = await handoffBytesMetric(n1);
  const t0 = Date.now();
  await api(n1, 'POST', '/admin/cluster/commit');

  const rows: string[] = ['elapsed_s,bytes_moved,interval_mib_per_s,active,pending'];
  let lastBytes = 0;
  let lastT = t0;
  let moved = 0;
  let balancedS = 0;
  for (;;) {
    await sleep(200);
    const [done, t, ms] = await Promise.all([handoffBytesMetric(n1), api<Transfers>(n1, 'GET', '/admin/transfers'), api<MemberStatus>(n1, 'GET', '/admin/member-status')]);
    const now = Date.now();
    const running = t.active.filter((x) => x.type === 'ownership').reduce((s, x) => s + x.bytes, 0);
    moved = done - base + running;
    const rate = (moved - lastBytes) / MIB / ((now - lastT) / 1000);
    rows.push(`${((now - t0) / 1000).toFixed(2)},${moved},${rate.toFixed(2)},${t.active.length},${t.pending.length}`);
    lastBytes = moved;
    lastT = now;
    const balanced = ms.members.length === 2 && ms.members.every((m) => m.ringPct === m.pendingPct && m.ringPct === 50);
    if (balanced && t.active.length + t.pending.length === 0) {
      balancedS = (now - t0) / 1000;
      moved = done - base;
      break;
    }
    if (now - t0 > 3_600_000) throw new Error('handoff did not finish within an hour');
  }

  const mibS = moved / MIB / balancedS;
  const summary: [string, string][] = [
    ['values written', `${(KEYS * VALUE_SIZE / MIB).toFixed(0)} MiB (${KEYS} keys x ${VALUE_SIZE} B)`],
    ['replicas stored on node 1', `${stored} (n_val ${N_VAL})`],
    ['compaction settle wait', `${settleS.toFixed(1)} s (before the join)`],
    ['partitions handed off', String(plan.transfers.length)],
    ['bytes handed off', `${(moved / MIB).toFixed(1)} MiB`],
    ['commit -> balanced', `${balancedS.toFixed(1)} s`],
    ['handoff throughput', `${mibS.toFixed(1)} MiB/s`],
  ];
  const w = Math.max(...summary.map(([k]) => k.length));
  process.stdout.write(`\n${summary.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`);
  fs.mkdirSync('bench-results', { recursive: true });
  const csv = path.join('bench-results', `handoff-${stamp}.csv`);
  const samples = path.join('bench-results', `handoff-${stamp}-samples.csv`);
  fs.writeFileSync(csv, 'values_mib,keys,value_size,n_val,ring_size,transfer_limit,partitions_moved,handoff_mib,balanced_s,mib_per_s\n' +
    `${(KEYS * VALUE_SIZE / MIB).toFixed(1)},${KEYS},${VALUE_SIZE},${N_VAL},${RING_SIZE},${TRANSFER_LIMIT},${plan.transfers.length},${(moved / MIB).toFixed(1)},${balancedS.toFixed(2)},${mibS.toFixed(2)}\n`);
  fs.writeFileSync(samples, `${rows.join('\n')}\n`);
  process.stdout.write(`results: ${csv} (timeline: ${samples})\n`);
}

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`bench:handoff: ${(e as Error).message}\n`);
  code = 1;
} finally {
  await Promise.all(nodes.map((n) => new Promise<void>((r) => {
    if (n.child.exitCode !== null) return r();
    n.child.once('exit', () => r());
    n.child.kill('SIGTERM');
  })));
  if (env.BENCH_KEEP !== '1') for (const n of nodes) fs.rmSync(n.dataDir, { recursive: true, force: true });
}
process.exit(code);
