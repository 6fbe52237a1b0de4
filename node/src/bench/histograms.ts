/**
 * Latency and error accounting per operation. One process runs every worker
 * on one thread, so workers share these without locks. Each op records into
 * an interval histogram that is folded into the run's total at every report,
 * which costs one add per interval instead of two records per operation.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import type { OpName } from './config.js';

/** An hour in microseconds; a slower answer is clamped, it was a timeout anyway. */
const HIGHEST_US = 3_600_000_000;

function histogram(): Histogram {
  // The pure JS build: no wasm instance to initialise or free, fast enough for a load generator.
  return build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

export interface LatencySummary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  p99_9: number;
  max: number;
}

export function summarise(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { n: 0, min: 0, mean: 0, p50: 0, p95: 0, p99: 0, p99_9: 0, max: 0 };
  // Percentiles are reported as their bucket's highest equivalent value, which can pass the true max by < 0.1%.
  const max = h.maxValue;
  const at = (p: number) => Math.min(h.getValueAtPercentile(p), max);
  return { n: h.totalCount, min: h.minNonZeroValue, mean: Math.round(h.mean * 10) / 10, p50: at(50), p95: at(95), p99: at(99), p99_9: at(99.9), max };
}

function bump(m: Map<string, number>, kind: string, by = 1): void {
  m.set(kind, (m.get(kind) ?? 0) + by);
}

export class OpStats {
  private readonly window = histogram();
  readonly total = histogram();
  windowErrors = new Map<string, number>();
  readonly totalErrors = new Map<string, number>();
  windowNotFound = 0;
  totalNotFound = 0;

  record(latencyUs: number, notFound = false): void {
    this.window.recordValue(Math.min(Math.max(1, Math.round(latencyUs)), HIGHEST_US));
    if (notFound) this.windowNotFound++;
  }

  error(kind: string): void {
    bump(this.windowErrors, kind);
  }

  /** Closes the current window: returns its numbers and folds them into the totals. */
  roll(): { latency: LatencySummary; errors: number; errorsByKind: Map<string, number>; notFound: number } {
    const latency = summarise(this.window);
    const errorsByKind = this.windowErrors;
    const notFound = this.windowNotFound;
    this.total.add(this.window);
    this.window.reset();
    for (const [k, v] of errorsByKind) bump(this.totalErrors, k, v);
    this.totalNotFound += notFound;
    this.windowErrors = new Map();
    this.windowNotFound = 0;
    return { latency, errors: [...errorsByKind.values()].reduce((a, b) => a + b, 0), errorsByKind, notFound };
  }

  get totalErrorCount(): number {
    return [...this.totalErrors.values()].reduce((a, b) => a + b, 0);
  }
}

export class Recorder {
  readonly ops: Map<OpName, OpStats>;
  /** failures outside any operation, e.g. the connection check before the run */
  readonly setupErrors = new Map<string, number>();

  constructor(ops: OpName[]) {
    this.ops = new Map(ops.map((op) => [op, new OpStats()]));
  }

  stats(op: OpName): OpStats {
    return this.ops.get(op)!;
  }

  setupError(kind: string): void {
    bump(this.setupErrors, kind);
  }
}
