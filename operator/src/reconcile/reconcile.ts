import { newCtx, type Ctx } from './context.js';
import { buildStatus } from './status.js';
import { deletion, finalizer, ownedObjects, steady } from './steps/lifecycle.js';
import { observe, operation, startNext } from './steps/plan.js';
import { done, type Decision, type ReconcileInput, type Result, type StepResult } from './types.js';

/**
 * One reconcile pass as a pure function: (cluster, observations) -> the
 * status to record, the actions to take in order, and when to come back.
 * Steps run in order until one returns anything but `continue`
 * (cass-operator's result helpers; etcd raft's "return effects, the caller
 * does the I/O").
 */
const STEPS: readonly (readonly [string, (ctx: Ctx) => StepResult])[] = [
  ['deletion', deletion],
  ['finalizer', finalizer],
  ['observe', observe],
  ['objects', ownedObjects],
  ['operation', operation],
  ['plan', startNext],
  ['steady', steady],
];

export function reconcile(input: ReconcileInput): Decision {
  const ctx = newCtx(input);
  let result: Result = done();
  let step = STEPS[STEPS.length - 1]![0];
  for (const [name, fn] of STEPS) {
    const r = fn(ctx);
    if (r.kind !== 'continue') {
      result = r;
      step = name;
      break;
    }
  }
  return { status: buildStatus(ctx, !!input.cluster.metadata.deletionTimestamp), actions: ctx.actions, result, step };
}
