import type { Operation } from '../../crd/spec.js';
import { admin, event, pod, stsReplicas, type Ctx } from '../context.js';
import { memberName, names, ordinalOf } from '../names.js';
import { next, requeue, fail, type StepResult } from '../types.js';
import { deriveView, isStandalone, pendingTransfers } from '../view.js';

/**
 * The membership operations, one step per pass, each resumable from
 * status.operation plus what the nodes report (FoundationDB operator style).
 * A node counts as joined or left only when the ring says so, never because
 * the operator asked for it.
 */
const POLL = 1000;
const TRANSFER_POLL = 2000;

function step(ctx: Ctx, s: string): void {
  if (ctx.operation) ctx.operation = { ...ctx.operation, step: s };
}

/** Staged changes the operator did not make block it: committing them blindly could remove a node nobody meant to. */
function foreignStaged(ctx: Ctx, op: Operation): string[] {
  const ours = new Set(op.nodes.map((p) => memberName(ctx.ref, p)));
  return ctx.view!.ring.staged.filter((s) => !(s.action === (op.type === 'Join' ? 'join' : 'leave') && ours.has(s.node))).map((s) => `${s.action} ${s.node}`);
}

function planAndCommit(ctx: Ctx, op: Operation, what: string): StepResult {
  const foreign = foreignStaged(ctx, op);
  if (foreign.length) {
    ctx.degraded.push(`changes staged outside the operator: ${foreign.join(', ')}; commit or clear them with rkv admin`);
    return requeue(30_000, 'foreign staged changes');
  }
  const source = ctx.view!.source;
  admin(ctx, source, { op: 'plan' });
  admin(ctx, source, { op: 'commit' });
  event(ctx, 'PlanCommitted', `committed ${what}`);
  step(ctx, 'Committing');
  return requeue(POLL, 'plan committed');
}

/** Scale up: grow the StatefulSet -> pods ready -> join each -> plan -> commit -> wait for the handoffs. */
export function join(ctx: Ctx, op: Operation): StepResult {
  if ((stsReplicas(ctx) ?? 0) < op.targetReplicas) {
    ctx.actions.push({ kind: 'scale', replicas: op.targetReplicas });
    event(ctx, 'ScalingUp', `StatefulSet grows to ${op.targetReplicas} for ${op.nodes.join(', ')}`);
    step(ctx, 'WaitingForPods');
    return requeue(POLL, 'StatefulSet growing');
  }
  const v = ctx.view;
  if (!v) return requeue(POLL, 'no node answers');
  const pending: string[] = [];
  for (const name of op.nodes) {
    if (v.memberPods.has(name)) continue;
    const p = pod(ctx, name);
    if (!p || !p.ready || !p.node) {
      pending.push(name);
      continue;
    }
    if (!isStandalone(ctx.ref, p)) {
      ctx.degraded.push(`${name} belongs to another cluster (${p.node.members.length} members); it cannot join`);
      return requeue(30_000, `${name} in another cluster`);
    }
    admin(ctx, name, { op: 'join', seed: v.source });
    event(ctx, 'JoinStaged', `${memberName(ctx.ref, name)} joins through ${v.source}`);
  }
  if (ctx.actions.some((a) => a.kind === 'admin' && a.call.op === 'join')) {
    step(ctx, 'Joining');
    return requeue(POLL, 'joins staged');
  }
  if (pending.length) {
    ctx.waiting = `waiting for ${pending.join(', ')} to be ready`;
    step(ctx, 'WaitingForPods');
    return requeue(POLL, ctx.waiting);
  }
  if (v.ring.staged.length) return planAndCommit(ctx, op, `join of ${op.nodes.join(', ')}`);
  const moving = pendingTransfers(v);
  if (moving > 0 || op.nodes.some((n) => v.memberPods.get(n)?.status !== 'valid')) {
    ctx.waiting = `${moving} partition handoff(s) to go`;
    step(ctx, 'Transferring');
    return requeue(TRANSFER_POLL, ctx.waiting);
  }
  event(ctx, 'ScaleUpComplete', `${op.nodes.join(', ')} joined; ${v.members.length} members own the ring`);
  ctx.operation = undefined;
  return next();
}

/**
 * Scale down: leave (highest ordinals) -> plan -> commit -> wait until the
 * ring no longer lists them -> shrink the StatefulSet -> then, and only then,
 * release their volumes. The witness is a remaining member, never a leaver.
 */
export function leave(ctx: Ctx, op: Operation): StepResult {
  const leaving = new Set(op.nodes);
  const v = deriveView(ctx.ref, ctx.input.observed.pods, leaving);
  if (!v) {
    ctx.waiting = 'no remaining member answers; cannot verify the leave';
    return requeue(TRANSFER_POLL, ctx.waiting);
  }
  const still = op.nodes.filter((n) => v.memberPods.has(n));
  let staged = false;
  for (const name of still) {
    const m = v.memberPods.get(name)!;
    const isStaged = v.ring.staged.some((s) => s.action === 'leave' && s.node === m.name);
    if (m.status === 'valid' && !isStaged) {
      admin(ctx, v.source, { op: 'leave', node: m.name });
      event(ctx, 'LeaveStaged', `${m.name} leaves; its partitions are handed off first`);
      staged = true;
    }
  }
  if (staged) {
    step(ctx, 'Leaving');
    return requeue(POLL, 'leaves staged');
  }
  if (v.ring.staged.length) {
    ctx.view = v;
    return planAndCommit(ctx, op, `leave of ${op.nodes.join(', ')}`);
  }
  if (still.length) {
    const shares = still.map((n) => `${n} ${v.memberPods.get(n)!.ringPct}%`).join(', ');
    ctx.waiting = `waiting for ${shares} to hand off`;
    step(ctx, 'Transferring');
    return requeue(TRANSFER_POLL, ctx.waiting);
  }
  // verified: no remaining member lists them
  const replicas = stsReplicas(ctx) ?? 0;
  if (replicas > op.targetReplicas) {
    ctx.actions.push({ kind: 'scale', replicas: op.targetReplicas });
    event(ctx, 'LeaveComplete', `${op.nodes.join(', ')} own nothing; StatefulSet shrinks to ${op.targetReplicas}`);
    step(ctx, 'Shrinking');
    return requeue(POLL, 'StatefulSet shrinking');
  }
  const lingering = ctx.input.observed.pods.filter((p) => p.ordinal >= op.targetReplicas);
  if (lingering.length) {
    ctx.waiting = `waiting for ${lingering.map((p) => p.name).join(', ')} to stop`;
    step(ctx, 'Shrinking');
    return requeue(POLL, ctx.waiting);
  }
  if (!ctx.spec.storage.retainOnScaleDown) {
    const ordinals = new Set(op.nodes.map((n) => ordinalOf(ctx.ref, n)));
    for (const pvc of ctx.input.observed.pvcs) {
      if (ordinals.has(pvc.ordinal) && !pvc.terminating && pvc.name === names.pvc(ctx.ref, pvc.ordinal)) {
        ctx.actions.push({ kind: 'deletePVC', name: pvc.name });
        event(ctx, 'VolumeDeleted', `${pvc.name} deleted (storage.retainOnScaleDown is false)`);
      }
    }
  }
  event(ctx, 'ScaleDownComplete', `${op.nodes.join(', ')} left; ${op.targetReplicas} node(s) remain`);
  ctx.operation = undefined;
  ctx.view = v;
  return next();
}

/** Ring resize: stage -> plan -> commit -> wait until the ring has switched size and nothing is left to copy. */
export function resize(ctx: Ctx, op: Operation): StepResult {
  const v = ctx.view;
  const to = op.ringSize;
  if (to === undefined) return fail('resize operation without a ring size', true);
  if (!v) return requeue(POLL, 'no node answers');
  if (v.ring.ringSize === to && !v.ring.resize && pendingTransfers(v) === 0 && v.ring.staged.length === 0) {
    event(ctx, 'ResizeComplete', `ring has ${to} partitions`);
    ctx.operation = undefined;
    return next();
  }
  if (v.ring.resize) {
    ctx.waiting = `resize to ${v.ring.resize.to}: ${v.ring.resize.pendingPartitions} partition(s) left to copy`;
    step(ctx, 'Copying');
    return requeue(TRANSFER_POLL, ctx.waiting);
  }
  const stagedResize = v.ring.staged.find((s) => s.action === 'resize');
  if (stagedResize) {
    if (stagedResize.size !== to || v.ring.staged.length > 1) {
      ctx.degraded.push(`staged changes differ from the resize to ${to}: ${v.ring.staged.map((s) => `${s.action} ${s.size ?? s.node}`).join(', ')}`);
      return requeue(30_000, 'foreign staged changes');
    }
    admin(ctx, v.source, { op: 'plan' });
    admin(ctx, v.source, { op: 'commit' });
    event(ctx, 'ResizeCommitted', `ring resize ${v.ring.ringSize} -> ${to} committed`);
    step(ctx, 'Committing');
    return requeue(POLL, 'resize committed');
  }
  if (v.ring.staged.length) {
    ctx.degraded.push(`changes staged outside the operator: ${v.ring.staged.map((s) => `${s.action} ${s.node}`).join(', ')}`);
    return requeue(30_000, 'foreign staged changes');
  }
  if (pendingTransfers(v) > 0) {
    ctx.waiting = 'waiting for handoffs to finish before resizing';
    return requeue(TRANSFER_POLL, ctx.waiting);
  }
  admin(ctx, v.source, { op: 'resize', size: to });
  event(ctx, 'ResizeStaged', `ring resize ${v.ring.ringSize} -> ${to} staged`);
  step(ctx, 'Staging');
  return requeue(POLL, 'resize staged');
}
