import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric of a node, on a registry of its own (tests run several nodes in
 * one process). Names follow SPEC 7: rkv_ prefix, base units, _total counters.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly requestDuration = new Histogram({
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

  readonly siblings = new Histogram({
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
    help: 'Tombstone reap attempts after deletes, by outcome (kept when some primary is missing or differs)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly fallbackWrites = new Counter({
    name: 'rkv_fallback_writes_total',
    help: 'Replica writes sent to a fallback vnode because a primary was down',
    registers: [this.registry],
  });

  readonly coordinatorDuration = new Histogram({
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
