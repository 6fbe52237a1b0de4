import type { CompactionStats } from '../backend/backend.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type LabelValues<L extends string> = Partial<Record<L, string | number>>;

/** A bound label set of a FastHistogram: observing costs a bucket search and three additions. */
export interface HistogramObserver {
  observe(value: number): void;
}

/** Where a histogram's series register: in first-observation order, per reset generation. */
interface SeriesBook {
  generation: number;
  observed: Series[];
}

/**
 * One label set's counts; `counts[i]` holds the observations falling in bucket
 * i alone (not cumulative). A series shows in the exposition from its first
 * observation on, as prom-client's do, and a reset empties it without
 * unbinding it from whoever holds it.
 */
class Series implements HistogramObserver {
  readonly counts: number[];
  sum = 0;
  count = 0;
  /** the book generation this series counted for; -1 before its first observation */
  private generation = -1;

  constructor(
    readonly labels: Record<string, string | number>,
    private readonly bounds: readonly number[],
    private readonly book: SeriesBook,
  ) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (this.generation !== this.book.generation) this.join();
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  private join(): void {
    this.generation = this.book.generation;
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
    this.book.observed.push(this);
  }
}

/**
 * A histogram for the per-request hot path. prom-client's Histogram hashes the
 * label object, validates it and looks its bucket up by a stringified bound on
 * every observation (~0.3 us, twice per request); here a label set is bound
 * once (labels()) and observing is a few additions. The exposition is
 * prom-client's own: it is registered on the registry like any metric and
 * yields the same values (cumulative buckets, +Inf, _sum, _count per label set,
 * in order of first observation).
 */
export class FastHistogram<L extends string = string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  private readonly series = new Map<string, Series>();
  private readonly book: SeriesBook = { generation: 0, observed: [] };
  /** the series without labels, bound on first use */
  private unlabelled: HistogramObserver | undefined;

  constructor(cfg: { name: string; help: string; labelNames?: readonly L[]; buckets: number[]; registers: Registry[] }) {
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = cfg.labelNames ?? [];
    this.bounds = [...cfg.buckets].sort((a, b) => a - b);
    for (const r of cfg.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of a label set; keep it to observe without any lookup (it survives reset()). */
  labels(labels: LabelValues<L>): HistogramObserver {
    let key = '';
    for (const n of this.labelNames) key += `${labels[n] ?? ''}\u0000`;
    let s = this.series.get(key);
    if (s === undefined) {
      const own: Record<string, string | number> = {};
      for (const [k, v] of Object.entries(labels) as [string, string | number | undefined][]) {
        if (!(this.labelNames as readonly string[]).includes(k)) throw new Error(`Added label "${k}" is not included in initial labelset: ${JSON.stringify(this.labelNames)}`);
        if (v !== undefined) own[k] = v;
      }
      s = new Series(own, this.bounds, this.book);
      this.series.set(key, s);
    }
    return s;
  }

  observe(labelsOrValue: LabelValues<L> | number, value?: number): void {
    if (typeof labelsOrValue === 'number') (this.unlabelled ??= this.labels({})).observe(labelsOrValue);
    else this.labels(labelsOrValue).observe(value!);
  }

  reset(): void {
    this.book.generation++;
    this.book.observed = [];
  }

  /** What the registry renders, in prom-client's shape (bucket labels apart from the series' shared labels). */
  getForPromString(): { name: string; help: string; type: 'histogram'; values: ExportedValue[]; aggregator: string } {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.book.observed) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The JSON form (registry.getMetricsAsJSON): shared labels folded into each value's labels. */
  async get(): Promise<ReturnType<FastHistogram['getForPromString']>> {
    const data = this.getForPromString();
    data.values = data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/**
 * Every metric of a node, on a registry of its own (tests run several nodes in
 * one process). Names follow SPEC 7: rkv_ prefix, base units, _total counters.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly requestDuration = new FastHistogram({
    name: 'rkv_request_duration_seconds',
    help: 'Latency of client requests by API and operation',
    labelNames: ['api', 'op'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly requestErrors = new Counter({
    name: 'rkv_request_errors_total',
    help: 'Client requests answered with an error, by API, operation and error code',
    labelNames: ['api', 'op', 'code'] as const,
    registers: [this.registry],
  });

  readonly quorumFailures = new Counter({
    name: 'rkv_quorum_failures_total',
    help: 'Coordinated requests that could not meet their quorum, by operation and quorum kind',
    labelNames: ['op', 'kind'] as const,
    registers: [this.registry],
  });

  readonly readRepairs = new Counter({
    name: 'rkv_read_repairs_total',
    help: 'Replicas repaired by a read',
    registers: [this.registry],
  });

  readonly siblings = new FastHistogram({
    name: 'rkv_siblings',
    help: 'Number of live siblings seen by reads',
    buckets: [1, 2, 3, 5, 10, 25, 50, 100],
    registers: [this.registry],
  });

  readonly tombstones = new Counter({
    name: 'rkv_tombstones_written_total',
    help: 'Deletes written as tombstones',
    registers: [this.registry],
  });

  readonly tombstoneReaps = new Counter({
    name: 'rkv_tombstone_reaps_total',
    help: 'Tombstone reap attempts after deletes and after reads of a tombstone, by outcome (reaped; kept when some primary is missing or differs or another node holds a different copy; absent when already gone)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly fallbackWrites = new Counter({
    name: 'rkv_fallback_writes_total',
    help: 'Replica writes sent to a fallback vnode because a primary was down',
    registers: [this.registry],
  });

  readonly coordinatorDuration = new FastHistogram({
    name: 'rkv_coordinator_duration_seconds',
    help: 'Latency of get/put coordinators by operation and quorum outcome',
    labelNames: ['op', 'outcome'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly vnodes = new Gauge({
    name: 'rkv_vnodes',
    help: 'Running vnodes by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly ringOwnership = new Gauge({
    name: 'rkv_ring_ownership_ratio',
    help: 'Fraction of the ring owned by each member, as seen by this node',
    labelNames: ['node'] as const,
    registers: [this.registry],
  });

  readonly ringSize = new Gauge({
    name: 'rkv_ring_partitions',
    help: 'Number of partitions in the ring',
    registers: [this.registry],
  });

  readonly handoffs = new Counter({
    name: 'rkv_handoffs_total',
    help: 'Finished handoffs by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly handoffDuration = new Histogram({
    name: 'rkv_handoff_duration_seconds',
    help: 'Duration of finished handoffs by type',
    labelNames: ['type'] as const,
    buckets: [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  readonly gossipRounds = new Counter({
    name: 'rkv_gossip_rounds_total',
    help: 'Ring gossip rounds this node started',
    registers: [this.registry],
  });

  readonly ringVersion = new Gauge({
    name: 'rkv_ring_version',
    help: 'Version of the ring this node holds (equal on all nodes once gossip converged)',
    registers: [this.registry],
  });

  readonly pendingTransfers = new Gauge({
    name: 'rkv_pending_ownership_transfers',
    help: 'Committed ownership transfers not yet completed, as seen by this node',
    registers: [this.registry],
  });

  readonly handoffBytes = new Counter({
    name: 'rkv_handoff_bytes_total',
    help: 'Bytes sent by handoffs, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly backendSize = new Gauge({
    name: 'rkv_backend_size_bytes',
    help: 'Approximate bytes held by the storage backend',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  /** the backend's compaction state, read at every scrape (cheap property reads) */
  compactionStats: (() => CompactionStats | undefined) | undefined;

  readonly backendCompactionsRunning: Gauge = new Gauge({
    name: 'rkv_backend_compactions_running',
    help: 'Compactions and memtable flushes the storage backend is running',
    registers: [this.registry],
    collect: () => this.backendCompactionsRunning.set(this.compactionStats?.()?.running ?? 0),
  });

  readonly backendCompactionPending: Gauge = new Gauge({
    name: 'rkv_backend_compaction_pending_bytes',
    help: 'Bytes the storage backend estimates it still has to compact',
    registers: [this.registry],
    collect: () => this.backendCompactionPending.set(this.compactionStats?.()?.pendingBytes ?? 0),
  });

  readonly clientConnections = new Gauge({
    name: 'rkv_client_connections',
    help: 'Open client connections by API',
    labelNames: ['api'] as const,
    registers: [this.registry],
  });

  readonly protocolErrors = new Counter({
    name: 'rkv_protocol_errors_total',
    help: 'Malformed client or peer input that was refused, by API',
    labelNames: ['api'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rkv_' });
    // prom-client exports these gauges with a _total suffix, which promtool
    // rejects (only counters may end in _total); the per-type gauges of the same
    // name without the suffix carry the same information.
    for (const kind of ['handles', 'requests', 'resources']) {
      this.registry.removeSingleMetric(`rkv_nodejs_active_${kind}_total`);
    }
  }
}
