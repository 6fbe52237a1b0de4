/**
 * `rkv bench compare A B` and the table printed after a run: summaries side
 * by side, one row per operation and metric, with B/A so a regression reads
 * as a ratio above 1 for latency or below 1 for throughput.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from '../cli/table.js';
import type { OpSummary, Summary } from './report.js';

export class CompareError extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isOpSummary(v: unknown): v is OpSummary {
  return isRecord(v) && typeof v.ops === 'number' && typeof v.ops_per_s === 'number' && typeof v.errors === 'number' && isRecord(v.latency_us);
}

/** Accepts a run directory or its summary.json. */
export function loadSummary(path: string): Summary {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'summary.json') : path;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CompareError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isRecord(doc) || doc.tool !== 'rkv bench' || !isRecord(doc.ops) || !isOpSummary(doc.totals) || !Object.values(doc.ops).every(isOpSummary)) {
    throw new CompareError(`${file} is not an rkv bench summary.json`);
  }
  return doc as unknown as Summary;
}

const METRICS: [label: string, get: (o: OpSummary) => number][] = [
  ['ops/s', (o) => o.ops_per_s],
  ['p50 us', (o) => o.latency_us.p50],
  ['p99 us', (o) => o.latency_us.p99],
  ['p99.9 us', (o) => o.latency_us.p99_9],
  ['errors', (o) => o.errors],
];

function ratio(a: number, b: number): string {
  if (a === 0) return b === 0 ? '1.00' : '--';
  return (b / a).toFixed(2);
}

export function compareTable(a: Summary, b: Summary): string {
  const ops = [...new Set([...Object.keys(a.ops), ...Object.keys(b.ops)]), 'all'];
  const pick = (s: Summary, op: string): OpSummary | undefined => (op === 'all' ? s.totals : s.ops[op]);
  const rows = ops.flatMap((op) =>
    METRICS.map(([metric, get]) => {
      const [oa, ob] = [pick(a, op), pick(b, op)];
      const [va, vb] = [oa && get(oa), ob && get(ob)];
      return { op, metric, A: va, B: vb, 'B/A': va === undefined || vb === undefined ? '--' : ratio(va, vb) };
    }),
  );
  return formatTable(rows, [
    { header: 'op', value: (r) => r.op },
    { header: 'metric', value: (r) => r.metric },
    { header: 'A', value: (r) => r.A, align: 'right' },
    { header: 'B', value: (r) => r.B, align: 'right' },
    { header: 'B/A', value: (r) => r['B/A'], align: 'right' },
  ]);
}

export function summaryTable(s: Summary): string {
  const rows = [...Object.entries(s.ops), ['all', s.totals] as const].map(([op, o]) => ({ op, ...o }));
  return formatTable(rows, [
    { header: 'op', value: (r) => r.op },
    { header: 'ops', value: (r) => r.ops, align: 'right' },
    { header: 'ops/s', value: (r) => r.ops_per_s, align: 'right' },
    { header: 'p50 us', value: (r) => r.latency_us.p50, align: 'right' },
    { header: 'p99 us', value: (r) => r.latency_us.p99, align: 'right' },
    { header: 'p99.9 us', value: (r) => r.latency_us.p99_9, align: 'right' },
    { header: 'max us', value: (r) => r.latency_us.max, align: 'right' },
    { header: 'not found', value: (r) => r.not_found, align: 'right' },
    { header: 'errors', value: (r) => r.errors, align: 'right' },
  ]);
}
