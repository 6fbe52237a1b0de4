import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Operator metrics (`rkv_operator_` prefix): reconciles, errors, step and action durations, informer restarts, leadership. */
export function operatorMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'rkv_operator_' });
  return {
    registry,
    reconciles: new Counter({ name: 'rkv_operator_reconciles_total', help: 'Reconcile passes by result', labelNames: ['result'], registers: [registry] }),
    errors: new Counter({ name: 'rkv_operator_reconcile_errors_total', help: 'Reconcile passes that failed, by stage', labelNames: ['stage'], registers: [registry] }),
    reconcileSeconds: new Histogram({
      name: 'rkv_operator_reconcile_duration_seconds', help: 'Reconcile pass duration by the step that ended it', labelNames: ['step'], registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    actionSeconds: new Histogram({
      name: 'rkv_operator_action_duration_seconds', help: 'Duration of each action the operator performs', labelNames: ['action'], registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    operationSeconds: new Histogram({
      name: 'rkv_operator_operation_duration_seconds', help: 'Duration of completed membership operations (Join, Leave, Resize)', labelNames: ['type'], registers: [registry],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    }),
    informerRestarts: new Counter({ name: 'rkv_operator_informer_restarts_total', help: 'Informers restarted after a watch error', labelNames: ['resource'], registers: [registry] }),
    leader: new Gauge({ name: 'rkv_operator_leader', help: '1 while this replica holds the leader lease', registers: [registry] }),
  };
}

export type OperatorMetrics = ReturnType<typeof operatorMetrics>;
