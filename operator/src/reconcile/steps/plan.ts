import type { Operation } from '../../crd/spec.js';
import { event, stsReplicas, type Ctx } from '../context.js';
import { names, ordinalOf } from '../names.js';
import { targetRingSize } from '../ring_size.js';
import { next, requeue, type StepResult } from '../types.js';
import { deriveView, settled, sortByOrdinal } from '../view.js';
import { join, leave, resize } from './membership.js';

/** Reads the cluster as the nodes report it; while nodes leave, only the remaining ones are witnesses. */
export function observe(ctx: Ctx): StepResult {
  const op = ctx.operation;
  ctx.view = deriveView(ctx.ref, ctx.input.observed.pods, new Set(op?.type === 'Leave' ? op.nodes : []));
  const v = ctx.view;
  if (v) {
    if (v.foreign.length) ctx.degraded.push(`members that are not pods of this cluster: ${v.foreign.map((m) => m.name).join(', ')}`);
    const down = v.members.filter((m) => !m.reachable).map((m) => m.name);
    if (down.length) ctx.degraded.push(`unreachable members: ${down.join(', ')}`);
  }
  return next();
}

/**
 * Resumes the operation recorded in status. It runs to its end even when the
 * spec changed meanwhile: the members being removed are held steady (a
 * scale-up during a leave waits for it), and the new spec is taken up next.
 */
export function operation(ctx: Ctx): StepResult {
  const op = ctx.operation;
  if (!op) return next();
  const r = op.type === 'Join' ? join(ctx, op) : op.type === 'Leave' ? leave(ctx, op) : resize(ctx, op);
  if (ctx.operation && (ctx.spec.replicas !== op.targetReplicas || (op.type === 'Resize' && op.ringSize !== targetRingSize(ctx.spec, ctx.spec.replicas, ctx.view?.ring.ringSize)))) {
    ctx.waiting = `${ctx.waiting ?? op.step}; the new spec is applied once this ${op.type} completes`;
  }
  return r;
}

function startOp(ctx: Ctx, op: Omit<Operation, 'startedAt' | 'step'>): Operation {
  const full: Operation = { ...op, step: 'Starting', startedAt: ctx.input.now };
  ctx.operation = full;
  return full;
}

/** Compares the spec with the ring and starts the next operation: joins first, then leaves, then a resize. */
export function startNext(ctx: Ctx): StepResult {
  const v = ctx.view;
  const desired = ctx.spec.replicas;
  if (!v) {
    ctx.waiting = 'waiting for a node to answer its admin API';
    return requeue(2000, ctx.waiting);
  }
  const seed = names.pod(ctx.ref, 0);
  if (v.unformed && v.source !== seed && desired > 1) {
    ctx.waiting = `waiting for ${seed} to seed the cluster`;
    return requeue(1000, ctx.waiting);
  }
  if (v.foreign.length) return requeue(30_000, 'foreign members');
  if (!settled(v)) {
    ctx.waiting ??= 'waiting for the ring to settle (staged changes, handoffs or unreachable members)';
    return requeue(2000, ctx.waiting);
  }
  const members = v.memberPods;
  const missing: string[] = [];
  for (let i = 0; i < desired; i++) if (!members.has(names.pod(ctx.ref, i))) missing.push(names.pod(ctx.ref, i));
  if (missing.length) {
    const op = startOp(ctx, { type: 'Join', nodes: missing, targetReplicas: desired });
    event(ctx, 'ScaleUp', `${members.size} -> ${desired} members: ${missing.join(', ')} will join`);
    return join(ctx, op);
  }
  const highest = Math.max(stsReplicas(ctx) ?? 0, ...[...members.keys()].map((p) => (ordinalOf(ctx.ref, p) ?? 0) + 1));
  if (highest > desired) {
    const nodes: string[] = [];
    for (let i = desired; i < highest; i++) nodes.push(names.pod(ctx.ref, i));
    const op = startOp(ctx, { type: 'Leave', nodes: sortByOrdinal(ctx.ref, nodes, -1), targetReplicas: desired });
    event(ctx, 'ScaleDown', `${members.size} -> ${desired} members: ${op.nodes.join(', ')} will leave`);
    return leave(ctx, op);
  }
  const size = targetRingSize(ctx.spec, desired, v.ring.ringSize);
  if (size !== v.ring.ringSize) {
    const op = startOp(ctx, { type: 'Resize', nodes: [], targetReplicas: desired, ringSize: size });
    event(ctx, 'Resize', `ring ${v.ring.ringSize} -> ${size} partitions${ctx.spec.ring.autoResize ? ' (autoResize)' : ''}`);
    return resize(ctx, op);
  }
  return next();
}
