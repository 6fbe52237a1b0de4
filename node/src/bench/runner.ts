/**
 * Runs a benchmark: connects every worker, drives load for the duration
 * (closed loop at --rate max, open loop at a fixed rate), reports each
 * interval, then writes the summary and charts.
 *
 * A target that cannot be reached at the start is decided up front: if no
 * target answers, the run ends at once (exit 3) rather than spending the
 * whole duration counting refusals; if some answer, the run goes on and the
 * workers of the dead ones count errors (and back off) until it comes back.
 */
import { performance } from 'node:perf_hooks';
import type { BenchConfig, OpName } from './config.js';
import { classify, CONNECTION_KINDS, errorMessage, type Driver, type DriverOptions } from './drivers/driver.js';
import { HttpDriver } from './drivers/http.js';
import { RespDriver } from './drivers/resp.js';
import { maxValueSize, valuePool } from './generators.js';
import { Recorder } from './histograms.js';
import { streamFor } from './prng.js';
import { progressLine, Reporter, type Summary, type TargetStatus } from './report.js';
import { Worker, WriteTracker } from './worker.js';

export interface RunIo {
  stderr: { write(s: string): unknown; isTTY?: boolean };
  /** aborting ends the run early; results are still written */
  signal?: AbortSignal;
  /** renders charts from the CSVs; injected so the engine does not load the chart stack itself */
  charts?: (dir: string, ops: OpName[]) => Promise<string[]>;
}

export interface RunResult {
  summary: Summary;
  /** 0: no errors; 1: completed with errors; 3: aborted (no target reachable, or --shutdown-on-error) */
  exitCode: 0 | 1 | 3;
  message: string;
}

/** After a connection error at --rate max, a worker waits this long instead of spinning on refusals. */
const CONNECTION_BACKOFF_MS = 100;

function makeDriver(cfg: BenchConfig, opts: DriverOptions): Driver {
  return cfg.protocol === 'resp' ? new RespDriver(opts) : new HttpDriver(opts);
}

/** The ops that get CSVs: get_own_puts runs a put until a worker has written something. */
export function recordedOps(cfg: BenchConfig): OpName[] {
  const ops = cfg.ops.map((o) => o.op);
  if (ops.includes('get_own_puts') && !ops.includes('put')) ops.push('put');
  return ops;
}

function sumErrors(kinds: Map<string, string>, counts: Map<string, number>): string {
  return [...counts].map(([k, n]) => `${k} ${n} (e.g. ${kinds.get(k)})`).join('; ');
}

export async function runBench(cfg: BenchConfig, io: RunIo): Promise<RunResult> {
  const ops = recordedOps(cfg);
  const recorder = new Recorder(ops);
  const reporter = new Reporter(cfg.out, ops);
  const startedAt = new Date().toISOString();
  const tracker = cfg.ops.some((o) => o.op === 'get_own_puts') ? new WriteTracker() : undefined;
  const pool = valuePool(streamFor(cfg.seed, 0, 'pool'), maxValueSize(cfg.valueSize));
  const workers = Array.from({ length: cfg.workers }, (_, w) => {
    const driver = makeDriver(cfg, { target: cfg.targets[w % cfg.targets.length]!, bucket: cfg.bucket, timeoutMs: cfg.timeoutMs });
    return new Worker(w, driver, cfg, tracker, pool);
  });
  const examples = new Map<string, string>();
  const note = (kind: string, where: string, msg: string) => {
    if (!examples.has(kind)) examples.set(kind, `${msg} on ${where}`);
  };

  // Connect every worker first, so setup cost is not in the numbers and a dead cluster is seen at once.
  const targets = new Map<string, TargetStatus>(cfg.targets.map((t) => [t, { target: t, reachable: false }]));
  await Promise.all(
    workers.map(async (w) => {
      const status = targets.get(w.driver.target)!;
      try {
        await w.driver.connect();
        status.reachable = true;
        delete status.error;
      } catch (err) {
        const e = classify(err);
        recorder.setupError(e.kind);
        note(e.kind, w.driver.target, e.message);
        if (!status.reachable) status.error = `${e.kind}: ${e.message}`;
      }
    }),
  );
  const down = [...targets.values()].filter((t) => !t.reachable);
  const finish = async (elapsedS: number, outcome: Summary['outcome'], message?: string) => {
    await Promise.all(workers.map((w) => w.driver.close().catch(() => undefined)));
    return reporter.summary(recorder, {
      tool: 'rkv bench', format: 1, started_at: startedAt, elapsed_s: Math.round(elapsedS * 1000) / 1000, outcome,
      ...(message ? { message } : {}), config: cfg, targets: [...targets.values()],
    });
  };
  if (down.length > 0 && cfg.shutdownOnError) {
    const message = `stopped before the start (--shutdown-on-error): unreachable ${down.map((t) => `${t.target} (${t.error})`).join(', ')}`;
    return { summary: await finish(0, 'aborted', message), exitCode: 3, message };
  }
  if (down.length === targets.size) {
    const message = `no target reachable: ${down.map((t) => `${t.target} (${t.error})`).join(', ')}`;
    return { summary: await finish(0, 'aborted', message), exitCode: 3, message };
  }
  for (const t of down) {
    const n = workers.filter((w) => w.driver.target === t.target).length;
    io.stderr.write(`rkv bench: warning: ${t.target} unreachable (${t.error}); its ${n} workers count errors until it answers\n`);
  }

  let stopping = false;
  let abortReason: string | undefined;
  // Sleeping workers, woken early by stop() (a set, not a race on one promise, which would collect a callback per sleep).
  const sleepers = new Set<() => void>();
  const stop = (reason?: string) => {
    if (reason && !abortReason && !stopping) abortReason = reason;
    stopping = true;
    for (const wake of [...sleepers]) wake();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping) return resolve();
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    stop();
  };
  io.signal?.addEventListener('abort', onAbort);

  const t0 = performance.now();
  const endAt = t0 + cfg.durationMs;
  let totalOps = 0;
  let totalErrors = 0;
  let lastTick = t0;
  const tty = io.stderr.isTTY === true;
  const tick = () => {
    const now = performance.now();
    const w = reporter.interval(recorder, (now - t0) / 1000, (now - lastTick) / 1000);
    totalOps += w.ops;
    totalErrors += w.errors;
    const line = progressLine((now - t0) / 1000, cfg.durationMs / 1000, w.ops, (now - lastTick) / 1000, totalOps, totalErrors);
    io.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    lastTick = now;
  };
  // Ticks on a fixed grid from t0; the last one comes after the workers finish, and a grid tick
  // due in the last quarter interval is skipped so the final window is not a sliver.
  let ticker: NodeJS.Timeout | undefined;
  const schedule = (k: number) => {
    const at = t0 + k * cfg.reportIntervalMs;
    if (at > endAt - cfg.reportIntervalMs / 4) return;
    ticker = setTimeout(() => {
      if (stopping) return;
      tick();
      schedule(k + 1);
    }, at - performance.now());
  };
  schedule(1);
  const deadline = setTimeout(() => stop(), cfg.durationMs);

  const execute = async (worker: Worker, op: OpName, sentAt: number) => {
    try {
      const out = await worker.run(op);
      recorder.stats(out.op).record((performance.now() - sentAt) * 1000, out.notFound);
    } catch (err) {
      const e = classify(err);
      recorder.stats(op).error(e.kind);
      note(e.kind, worker.driver.target, e.message);
      if (cfg.shutdownOnError) stop(`stopped on the first error (--shutdown-on-error): ${op} on ${worker.driver.target}: ${e.kind}: ${e.message}`);
      else if (cfg.rate === 'max' && CONNECTION_KINDS.has(e.kind)) await sleep(CONNECTION_BACKOFF_MS);
    }
  };

  const closedLoop = async (worker: Worker) => {
    while (!stopping) await execute(worker, worker.nextOp(), performance.now());
  };
  // Open loop: each worker owns every W-th slot of the total schedule, and latency counts from the
  // slot's time, so a stall shows up as the queueing delay it causes (as wrk2 does).
  const openLoop = async (worker: Worker, rate: number) => {
    const period = (1000 * cfg.workers) / rate;
    for (let i = 0; ; i++) {
      const intended = t0 + (worker.index * 1000) / rate + i * period;
      if (intended >= endAt) break;
      const wait = intended - performance.now();
      if (wait >= 1) await sleep(wait);
      if (stopping) break;
      // Late: latency counts from the intended time. Early (a timer may fire before its ms is due): from the send.
      await execute(worker, worker.nextOp(), Math.min(intended, performance.now()));
    }
  };
  const rate = cfg.rate;
  await Promise.all(workers.map((w) => (rate === 'max' ? closedLoop(w) : openLoop(w, rate))));
  // The last slots fall short of the end; the run still lasts its duration, so ops/s is the rate asked for.
  if (endAt > performance.now()) await sleep(endAt - performance.now());
  stop();
  clearTimeout(deadline);
  clearTimeout(ticker);
  io.signal?.removeEventListener('abort', onAbort);
  const elapsedS = (performance.now() - t0) / 1000;
  tick();
  if (tty) io.stderr.write('\n');

  const errorCounts = new Map<string, number>();
  for (const op of ops) for (const [k, v] of recorder.stats(op).totalErrors) errorCounts.set(k, (errorCounts.get(k) ?? 0) + v);
  for (const [k, v] of recorder.setupErrors) errorCounts.set(k, (errorCounts.get(k) ?? 0) + v);
  const errors = [...errorCounts.values()].reduce((a, b) => a + b, 0);
  let message = abortReason ?? (interrupted ? `interrupted after ${elapsedS.toFixed(1)}s` : `completed in ${elapsedS.toFixed(1)}s`);
  if (errors > 0) message += `; ${errors} errors: ${sumErrors(examples, errorCounts)}`;
  const summary = await finish(elapsedS, abortReason ? 'aborted' : 'completed', message);
  if (cfg.charts && io.charts) {
    try {
      await io.charts(cfg.out, ops);
    } catch (err) {
      io.stderr.write(`rkv bench: warning: charts not rendered: ${errorMessage(err)}\n`);
    }
  }
  return { summary, exitCode: abortReason ? 3 : errors > 0 ? 1 : 0, message };
}
