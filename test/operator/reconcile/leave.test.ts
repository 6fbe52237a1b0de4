import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reconcile } from '../../../operator/src/reconcile/reconcile.js';
import { cluster, eventReasons, input, member, members, node, nonEvents, objectsFor, op, pod, podObs, standalone, statusWith, steady, view } from './fixtures.js';
import { names } from '../../../operator/src/reconcile/names.js';
import type { Observed } from '../../../operator/src/reconcile/types.js';

const REF = { name: 'c', namespace: 'ns' };

/**
 * Scale-down: nodes leave first and the StatefulSet shrinks only once a
 * remaining member's ring no longer lists them (scylla-operator #3539,
 * cass-operator #261); volumes go only after that.
 */
function leaving(step: string, target = 3) {
  return op({ type: 'Leave', nodes: [pod(4), pod(3)], targetReplicas: target, step });
}

/** Pods 0..4; the first three see `remaining`, the leavers see `leavers` (default: the same). */
function fivePods(c: ReturnType<typeof cluster>, remaining: ReturnType<typeof view>, leavers = remaining, stsReplicas = 5): Observed {
  return { ...objectsFor(c, stsReplicas), pods: [0, 1, 2].map((i) => podObs(i, remaining)).concat([3, 4].map((i) => podObs(i, leavers))), pvcs: [0, 1, 2, 3, 4].map((i) => ({ name: names.pvc(REF, i), ordinal: i, storage: '10Gi', terminating: false })) };
}

describe('reconcile: scale down', () => {
  it('5 -> 3: the highest ordinals leave, staged through a remaining member', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), undefined));
    const d = reconcile(input(c, steady(c, 5)));
    assert.deepEqual(nonEvents(d.actions), [`admin:leave:${pod(0)}:rkv@c-4`, `admin:leave:${pod(0)}:rkv@c-3`]);
    assert.deepEqual(eventReasons(d.actions), ['ScaleDown', 'LeaveStaged', 'LeaveStaged']);
    assert.deepEqual(d.status.operation?.nodes, [pod(4), pod(3)]);
    assert.equal(d.status.operation?.targetReplicas, 3);
  });

  it('leaves staged: plan and commit', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), leaving('Leaving')));
    const v = view(members(5), { staged: [{ action: 'leave', node: node(4) }, { action: 'leave', node: node(3) }] });
    const d = reconcile(input(c, fivePods(c, v)));
    assert.deepEqual(nonEvents(d.actions), [`admin:plan:${pod(0)}`, `admin:commit:${pod(0)}`]);
  });

  it('while the leavers still own partitions nothing shrinks', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), leaving('Committing')));
    const v = view([...members(3), member(3, 'leaving', 12.5, 0), member(4, 'leaving', 6.3, 0)], { pendingOwnershipTransfers: 3 });
    const d = reconcile(input(c, fivePods(c, v)));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.message ?? '', /c-4 6.3%/);
    assert.equal(d.status.phase, 'Scaling');
  });

  it('never trusts a leaver: they report themselves alone, but a remaining member still lists them', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), leaving('Transferring')));
    const v = view([...members(3), member(3, 'exiting', 0), member(4, 'exiting', 0)]);
    const d = reconcile(input(c, { ...fivePods(c, v), pods: [0, 1, 2].map((i) => podObs(i, v)).concat([podObs(3, standalone(3)), podObs(4, standalone(4))]) }));
    assert.deepEqual(nonEvents(d.actions), []);
  });

  it('only the leavers answer: the leave cannot be verified, nothing shrinks', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), leaving('Transferring')));
    const obs = fivePods(c, view(members(3)), undefined);
    obs.pods = [0, 1, 2].map((i) => podObs(i, undefined, { ready: false, error: 'connection refused' })).concat([podObs(3, standalone(3)), podObs(4, standalone(4))]);
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.message ?? '', /cannot verify the leave/);
  });

  it('the ring no longer lists them: the StatefulSet shrinks', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), leaving('Transferring')));
    const d = reconcile(input(c, fivePods(c, view(members(3)), view([member(3)]))));
    assert.deepEqual(nonEvents(d.actions), ['scale:3']);
    assert.deepEqual(eventReasons(d.actions), ['LeaveComplete']);
    assert.equal(d.status.operation?.step, 'Shrinking');
  });

  it('waits for the pods to stop before touching volumes', () => {
    const c = cluster({ replicas: 3, storage: { size: '10Gi', retainOnScaleDown: false } }, statusWith(cluster(), leaving('Shrinking')));
    const obs = fivePods(c, view(members(3)), standalone(3), 3);
    obs.pods[3] = { ...obs.pods[3]!, terminating: true };
    obs.pods[4] = { ...obs.pods[4]!, terminating: true };
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), []);
  });

  it('pods gone, retainOnScaleDown false: their PVCs are deleted and the Leave ends', () => {
    const c = cluster({ replicas: 3, storage: { size: '10Gi', retainOnScaleDown: false } }, statusWith(cluster(), leaving('Shrinking')));
    const obs = fivePods(c, view(members(3)), undefined, 3);
    obs.pods = obs.pods.slice(0, 3);
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), [`deletePVC:data-c-3`, `deletePVC:data-c-4`]);
    assert.equal(d.status.operation, undefined);
    assert.ok(eventReasons(d.actions).includes('ScaleDownComplete'));
  });

  it('pods gone, retainOnScaleDown true: the PVCs stay', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), leaving('Shrinking')));
    const obs = fivePods(c, view(members(3)), undefined, 3);
    obs.pods = obs.pods.slice(0, 3);
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.equal(d.status.operation, undefined);
  });

  it('a scale-up during a leave holds the leavers steady: the leave runs to its end first', () => {
    const c = cluster({ replicas: 5 }, statusWith(cluster(), leaving('Transferring')));
    const v = view([...members(3), member(3, 'leaving', 12.5, 0), member(4, 'leaving', 6.3, 0)], { pendingOwnershipTransfers: 3 });
    const d = reconcile(input(c, fivePods(c, v)));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.equal(d.status.operation?.type, 'Leave');
    assert.match(d.status.message ?? '', /new spec is applied once this Leave completes/);
    // and once it has completed, the next pass shrinks as recorded (target 3), not to the new 5
    const done = reconcile(input(c, fivePods(c, view(members(3)), view([member(3)]))));
    assert.deepEqual(nonEvents(done.actions), ['scale:3']);
  });

  it('after the leave, the queued scale-up starts a Join', () => {
    const c = cluster({ replicas: 5 }, statusWith(cluster(), undefined));
    const obs = steady(c, 3);
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), ['scale:5']);
    assert.equal(d.status.operation?.type, 'Join');
  });

  it('pods above replicas that never joined are removed without a leave', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), undefined));
    const obs = steady(c, 3);
    obs.statefulSet!.replicas = 4;
    obs.pods.push(podObs(3, standalone(3)));
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), ['scale:3']);
  });

  it('a restarted operator resumes the recorded Leave without announcing a new one', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), leaving('Committing')));
    const v = view([...members(3), member(3, 'leaving', 12.5, 0), member(4, 'valid', 6.3)], { staged: [] });
    const d = reconcile(input(c, fivePods(c, v)));
    // c-4's leave was never staged (the operator died first): it is staged now, c-3's is not repeated
    assert.deepEqual(nonEvents(d.actions), [`admin:leave:${pod(0)}:rkv@c-4`]);
    assert.ok(!eventReasons(d.actions).includes('ScaleDown'));
    assert.equal(d.status.operation?.startedAt, '2029-12-31T23:00:00Z');
  });
});
