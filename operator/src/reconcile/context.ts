import type { Operation, RkvCluster, RkvClusterSpec } from '../crd/spec.js';
import { refOf, type ClusterRef } from './names.js';
import type { Action, AdminCall, PodObservation, ReconcileInput } from './types.js';
import type { ClusterView } from './view.js';

/**
 * What the steps of one reconcile pass share: the input, the actions chosen
 * so far, and the progress record (status.operation) as it will be written.
 */
export interface Ctx {
  readonly input: ReconcileInput;
  readonly cluster: RkvCluster;
  readonly spec: RkvClusterSpec;
  readonly ref: ClusterRef;
  readonly actions: Action[];
  /** the operation in progress (undefined: none); steps replace it */
  operation: Operation | undefined;
  /** the cluster as its nodes see it (undefined: no node answered) */
  view: ClusterView | undefined;
  /** why the cluster is not healthy, for the Degraded condition */
  degraded: string[];
  /** what the pass is waiting for, for status.message */
  waiting: string | undefined;
}

export function newCtx(input: ReconcileInput): Ctx {
  return {
    input,
    cluster: input.cluster,
    spec: input.cluster.spec,
    ref: refOf(input.cluster),
    actions: [],
    operation: input.cluster.status?.operation,
    view: undefined,
    degraded: [],
    waiting: undefined,
  };
}

export function admin(ctx: Ctx, pod: string, call: AdminCall): void {
  ctx.actions.push({ kind: 'admin', pod, call });
}

export function event(ctx: Ctx, reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal'): void {
  ctx.actions.push({ kind: 'event', type, reason, message });
}

export function pod(ctx: Ctx, name: string): PodObservation | undefined {
  return ctx.input.observed.pods.find((p) => p.name === name);
}

export function stsReplicas(ctx: Ctx): number | undefined {
  return ctx.input.observed.statefulSet?.replicas;
}
