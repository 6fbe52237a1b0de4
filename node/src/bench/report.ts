/**
 * Result files of a run: `<op>.csv` (one row per reporting interval, in the
 * spirit of basho_bench's `<op>_latencies.csv`), `summary.csv`,
 * `summary.json` and `errors.csv`. Rows are appended as the run goes so a
 * run that is killed still leaves its data behind.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig, OpName } from './config.js';
import { summarise, type LatencySummary, type Recorder } from './histograms.js';
import { build } from 'hdr-histogram-js';

export const OP_CSV_HEADER = 'elapsed,window,n,min,mean,p50,p95,p99,p99_9,max,errors';
export const SUMMARY_CSV_HEADER = 'op,ops,ops_per_s,not_found,errors,min,mean,p50,p95,p99,p99_9,max';

export interface OpSummary {
  ops: number;
  ops_per_s: number;
  not_found: number;
  errors: number;
  errors_by_kind: Record<string, number>;
  latency_us: Omit<LatencySummary, 'n'>;
}

export interface TargetStatus {
  target: string;
  reachable: boolean;
  error?: string;
}

export interface Summary {
  tool: 'rkv bench';
  format: 1;
  started_at: string;
  elapsed_s: number;
  outcome: 'completed' | 'aborted';
  message?: string;
  config: BenchConfig;
  targets: TargetStatus[];
  /** failures outside any operation (the connection check); also counted in totals */
  setup_errors: Record<string, number>;
  totals: OpSummary;
  ops: Record<string, OpSummary>;
}

export function opCsvPath(dir: string, op: string): string {
  return join(dir, `${op}.csv`);
}

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

export class Reporter {
  constructor(
    readonly dir: string,
    private readonly ops: OpName[],
  ) {
    mkdirSync(dir, { recursive: true });
    for (const op of ops) writeFileSync(opCsvPath(dir, op), `${OP_CSV_HEADER}\n`);
  }

  /** Closes the current window of every op; returns the window's totals for the progress line. */
  interval(recorder: Recorder, elapsedS: number, windowS: number): { ops: number; errors: number } {
    let ops = 0;
    let errors = 0;
    for (const op of this.ops) {
      const w = recorder.stats(op).roll();
      const l = w.latency;
      appendFileSync(opCsvPath(this.dir, op), [round(elapsedS), round(windowS), l.n, l.min, l.mean, l.p50, l.p95, l.p99, l.p99_9, l.max, w.errors].join(',') + '\n');
      ops += l.n;
      errors += w.errors;
    }
    return { ops, errors };
  }

  summary(recorder: Recorder, base: Omit<Summary, 'totals' | 'ops' | 'setup_errors'>): Summary {
    const perOp: Record<string, OpSummary> = {};
    const all = build({ useWebAssembly: false, highestTrackableValue: 3_600_000_000, autoResize: false });
    const allErrors: Record<string, number> = Object.fromEntries(recorder.setupErrors);
    let notFound = 0;
    for (const op of this.ops) {
      const s = recorder.stats(op);
      all.add(s.total);
      notFound += s.totalNotFound;
      for (const [k, v] of s.totalErrors) allErrors[k] = (allErrors[k] ?? 0) + v;
      perOp[op] = opSummary(summarise(s.total), s.totalNotFound, Object.fromEntries(s.totalErrors), base.elapsed_s);
    }
    const summary: Summary = { ...base, setup_errors: Object.fromEntries(recorder.setupErrors), totals: opSummary(summarise(all), notFound, allErrors, base.elapsed_s), ops: perOp };
    this.writeSummary(summary);
    return summary;
  }

  private writeSummary(s: Summary): void {
    writeFileSync(join(this.dir, 'summary.json'), JSON.stringify(s, null, 2) + '\n');
    const row = (op: string, o: OpSummary): string => {
      const l = o.latency_us;
      return [op, o.ops, o.ops_per_s, o.not_found, o.errors, l.min, l.mean, l.p50, l.p95, l.p99, l.p99_9, l.max].join(',');
    };
    const rows = [...Object.entries(s.ops).map(([op, o]) => row(op, o)), row('all', s.totals)];
    writeFileSync(join(this.dir, 'summary.csv'), [SUMMARY_CSV_HEADER, ...rows].join('\n') + '\n');
    const errs: string[] = ['op,kind,count'];
    for (const [op, o] of Object.entries(s.ops)) for (const [k, v] of Object.entries(o.errors_by_kind)) errs.push(`${op},${k},${v}`);
    for (const [k, v] of Object.entries(s.setup_errors)) errs.push(`connect,${k},${v}`);
    writeFileSync(join(this.dir, 'errors.csv'), errs.join('\n') + '\n');
  }
}

function opSummary(l: LatencySummary, notFound: number, errorsByKind: Record<string, number>, elapsedS: number): OpSummary {
  const { n, ...latency } = l;
  const errors = Object.values(errorsByKind).reduce((a, b) => a + b, 0);
  return { ops: n, ops_per_s: elapsedS > 0 ? round(n / elapsedS, 1) : 0, not_found: notFound, errors, errors_by_kind: errorsByKind, latency_us: latency };
}

/** The live line: one line redrawn in place on a terminal, else a line per interval (for logs and CI). */
export function progressLine(elapsedS: number, durationS: number, windowOps: number, windowS: number, totalOps: number, totalErrors: number): string {
  const rate = windowS > 0 ? Math.round(windowOps / windowS) : 0;
  return `[${elapsedS.toFixed(1).padStart(6)}s / ${durationS}s] ${String(rate).padStart(7)} ops/s  ${totalOps} ops  ${totalErrors} errors`;
}
