import type { Condition, ConditionType, Phase, RkvClusterStatus } from '../crd/spec.js';
import type { Ctx } from './context.js';
import { pendingTransfers } from './view.js';

type CondInput = { status: 'True' | 'False'; reason: string; message: string };

/** Keeps lastTransitionTime when a condition's status did not change (Kubernetes API conventions). */
function condition(ctx: Ctx, type: ConditionType, c: CondInput): Condition {
  const prev = ctx.cluster.status?.conditions?.find((x) => x.type === type);
  const generation = ctx.cluster.metadata.generation;
  return {
    type,
    ...c,
    lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : ctx.input.now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

function phaseOf(ctx: Ctx, terminating: boolean): Phase {
  if (terminating) return 'Terminating';
  const op = ctx.operation;
  const everRan = ctx.cluster.status?.phase !== undefined && ctx.cluster.status.phase !== 'Pending' && ctx.cluster.status.phase !== 'Creating';
  if (!ctx.view) return ctx.input.observed.statefulSet && everRan ? 'Degraded' : ctx.input.observed.statefulSet ? 'Creating' : 'Pending';
  if (op?.type === 'Resize' || ctx.view.ring.resize) return 'Resizing';
  if (op) return everRan ? 'Scaling' : 'Creating';
  if (ctx.degraded.length) return 'Degraded';
  return 'Running';
}

/** The status the pass writes: observations, the progress record, phase and the four conditions. */
export function buildStatus(ctx: Ctx, terminating = false): RkvClusterStatus {
  const v = ctx.view;
  const obs = ctx.input.observed;
  const phase = phaseOf(ctx, terminating);
  const members = v ? v.members.map((m) => ({ name: m.name, status: m.reachable ? m.status : 'down', ringPct: m.ringPct })) : ctx.cluster.status?.members ?? [];
  const validReachable = v ? v.members.filter((m) => m.reachable && (m.status === 'valid' || m.status === 'leaving')).length : 0;
  const available = !!v && !terminating && validReachable >= ctx.spec.nVal;
  const op = ctx.operation;
  const resizing = op?.type === 'Resize' || !!v?.ring.resize;
  const message = ctx.input.lastError ?? ctx.degraded[0] ?? ctx.waiting;
  const conditions: Condition[] = [
    condition(ctx, 'Available', available
      ? { status: 'True', reason: 'QuorumAvailable', message: `${validReachable} reachable members, nVal ${ctx.spec.nVal}` }
      : { status: 'False', reason: v ? 'TooFewMembers' : 'NoNodeAnswers', message: v ? `${validReachable} reachable members, nVal ${ctx.spec.nVal}` : 'no node answered the admin API yet' }),
    condition(ctx, 'Progressing', op
      ? { status: 'True', reason: `${op.type}${op.step}`, message: `${op.type} ${op.nodes.join(', ') || `ring ${op.ringSize ?? ''}`}: ${op.step}` }
      : ctx.waiting
        ? { status: 'True', reason: 'Waiting', message: ctx.waiting }
        : { status: 'False', reason: 'Idle', message: 'desired state reached' }),
    condition(ctx, 'Degraded', ctx.degraded.length || ctx.input.lastError
      ? { status: 'True', reason: ctx.input.lastError ? 'ActionFailed' : 'Unhealthy', message: [ctx.input.lastError, ...ctx.degraded].filter(Boolean).join('; ') }
      : { status: 'False', reason: 'Healthy', message: 'all members reachable' }),
    condition(ctx, 'Resizing', resizing
      ? { status: 'True', reason: 'RingResize', message: `ring ${v?.ring.ringSize ?? '?'} -> ${op?.ringSize ?? v?.ring.resize?.to ?? '?'}` }
      : { status: 'False', reason: 'Idle', message: 'no resize in progress' }),
  ];
  const generation = ctx.cluster.metadata.generation;
  return {
    phase,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    replicas: v ? v.memberPods.size : 0,
    readyReplicas: obs.pods.filter((p) => p.ready && !p.terminating).length,
    members,
    ring: v ? { size: v.ring.ringSize, pendingTransfers: pendingTransfers(v) } : ctx.cluster.status?.ring ?? { size: ctx.spec.ring.size, pendingTransfers: 0 },
    conditions,
    ...(op ? { operation: op } : {}),
    ...(message ? { message } : {}),
  };
}
