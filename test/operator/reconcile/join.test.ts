import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reconcile } from '../../../operator/src/reconcile/reconcile.js';
import { cluster, eventReasons, input, member, members, node, nonEvents, objectsFor, op, pod, podObs, standalone, statusWith, steady, view } from './fixtures.js';

/** Creation and scale-up, one pass at a time: what each observed state leads to. */
describe('reconcile: creation', () => {
  it('a new cluster: finalizer, generated secret, owned objects, then the StatefulSet', () => {
    const c = cluster({ replicas: 3 }, undefined, { finalizers: [] });
    const d = reconcile(input(c, { pods: [], pvcs: [], hashes: {}, secretExists: false }));
    assert.deepEqual(nonEvents(d.actions), ['addFinalizer', 'createIfMissing:Secret', 'apply:ConfigMap', 'apply:Service', 'apply:Service', 'apply:PodDisruptionBudget', 'apply:StatefulSet']);
    assert.equal(d.result.kind, 'requeue');
    assert.equal(d.status.phase, 'Pending');
    assert.equal(d.status.observedGeneration, 1);
    const sts = d.actions.find((a) => a.kind === 'apply' && a.object.kind === 'StatefulSet');
    assert.equal((sts as unknown as { object: { spec: { replicas: number } } }).object.spec.replicas, 3);
  });

  it('a user-supplied secret that does not exist: Degraded, nothing else created', () => {
    const c = cluster({ clusterSecretRef: { name: 'mine', key: 'k' } });
    const d = reconcile(input(c, { pods: [], pvcs: [], hashes: {}, secretExists: false }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.message ?? '', /secret mine/);
    assert.equal(d.status.conditions?.find((x) => x.type === 'Degraded')?.status, 'True');
  });

  it('pods not answering yet: waits (Creating)', () => {
    const c = cluster();
    const d = reconcile(input(c, { ...objectsFor(c, 3), pods: [0, 1, 2].map((i) => podObs(i, undefined, { ready: false })), pvcs: [] }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.equal(d.status.phase, 'Creating');
    assert.equal(d.result.kind, 'requeue');
  });

  it('all pods standalone and ready: pod 0 seeds, the others join, recorded as a Join before acting', () => {
    const c = cluster();
    const d = reconcile(input(c, { ...objectsFor(c, 3), pods: [0, 1, 2].map((i) => podObs(i, standalone(i))), pvcs: [] }));
    assert.deepEqual(nonEvents(d.actions), [`admin:join:${pod(1)}<-${pod(0)}`, `admin:join:${pod(2)}<-${pod(0)}`]);
    assert.deepEqual(eventReasons(d.actions), ['ScaleUp', 'JoinStaged', 'JoinStaged']);
    assert.deepEqual(d.status.operation && { ...d.status.operation, startedAt: '' }, { type: 'Join', nodes: [pod(1), pod(2)], targetReplicas: 3, step: 'Joining', startedAt: '' });
    assert.equal(d.status.phase, 'Creating');
    assert.equal(d.status.conditions?.find((x) => x.type === 'Progressing')?.status, 'True');
  });

  it('a fresh cluster never seeds from another pod than ordinal 0', () => {
    const c = cluster();
    const d = reconcile(input(c, { ...objectsFor(c, 3), pods: [podObs(0, undefined, { ready: false }), podObs(1, standalone(1)), podObs(2, standalone(2))], pvcs: [] }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.message ?? '', /waiting for c-0 to seed/);
  });

  it('joins staged: plan and commit at the claimant-side source', () => {
    const c = cluster({}, statusWith(cluster(), op({ type: 'Join', nodes: [pod(1), pod(2)], step: 'Joining' }), { phase: 'Creating' }));
    const v = view([member(0, 'valid', 100), member(1, 'joining'), member(2, 'joining')], { staged: [{ action: 'join', node: node(1) }, { action: 'join', node: node(2) }] });
    const d = reconcile(input(c, { ...objectsFor(c, 3), pods: [0, 1, 2].map((i) => podObs(i, v)), pvcs: [] }));
    assert.deepEqual(nonEvents(d.actions), [`admin:plan:${pod(0)}`, `admin:commit:${pod(0)}`]);
    assert.equal(d.status.operation?.step, 'Committing');
  });

  it('committed, handoffs running: waits in Transferring', () => {
    const c = cluster({}, statusWith(cluster(), op({ type: 'Join', nodes: [pod(1), pod(2)], step: 'Committing' })));
    const v = view([member(0, 'valid', 100, 37.5), member(1, 'valid', 0, 31.3), member(2, 'valid', 0, 31.3)], { pendingOwnershipTransfers: 10 });
    const d = reconcile(input(c, { ...objectsFor(c, 3), pods: [0, 1, 2].map((i) => podObs(i, v)), pvcs: [] }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.equal(d.status.operation?.step, 'Transferring');
    assert.equal(d.status.ring?.pendingTransfers, 10);
    assert.deepEqual(d.result, { kind: 'requeue', afterMs: 2000, reason: '10 partition handoff(s) to go' });
  });

  it('handoffs done: the Join ends, Running and Available', () => {
    const c = cluster({}, statusWith(cluster(), op({ type: 'Join', nodes: [pod(1), pod(2)], step: 'Transferring' }), { phase: 'Creating' }));
    const d = reconcile(input(c, steady(c, 3)));
    assert.deepEqual(eventReasons(d.actions), ['ScaleUpComplete']);
    assert.equal(d.status.operation, undefined);
    assert.equal(d.status.phase, 'Running');
    assert.equal(d.status.conditions?.find((x) => x.type === 'Available')?.status, 'True');
    assert.deepEqual(d.status.members?.map((m) => m.name), [node(0), node(1), node(2)]);
    assert.equal(d.result.kind, 'done');
  });

  it('steady state is a fixed point: no action at all (an operator upgrade changes nothing)', () => {
    const c = cluster({}, statusWith(cluster(), undefined));
    const d = reconcile(input(c, steady(c, 3)));
    assert.deepEqual(d.actions, []);
    assert.deepEqual(d.result, { kind: 'done' });
  });
});

describe('reconcile: scale up', () => {
  it('3 -> 5: the StatefulSet grows first, recorded as a Join of c-3 and c-4', () => {
    const c = cluster({ replicas: 5 }, statusWith(cluster(), undefined));
    const d = reconcile(input(c, steady(c, 3)));
    assert.deepEqual(nonEvents(d.actions), ['scale:5']);
    assert.deepEqual(d.status.operation?.nodes, [pod(3), pod(4)]);
    assert.equal(d.status.phase, 'Scaling');
  });

  it('one new pod ready, the other not: joins the ready one, waits for the other', () => {
    const c = cluster({ replicas: 5 }, statusWith(cluster(), op({ type: 'Join', nodes: [pod(3), pod(4)], targetReplicas: 5, step: 'WaitingForPods' })));
    const obs = steady(c, 3);
    obs.statefulSet!.replicas = 5;
    obs.pods.push(podObs(3, standalone(3)), podObs(4, undefined, { ready: false }));
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), [`admin:join:${pod(3)}<-${pod(0)}`]);
    const again = reconcile(input(c, { ...obs, pods: [...obs.pods.slice(0, 3), podObs(3, view([...members(3), member(3, 'joining')])), podObs(4, undefined, { ready: false })] }));
    assert.deepEqual(nonEvents(again.actions), []);
    assert.match(again.status.message ?? '', /waiting for c-4 to be ready/);
  });

  it('a join that failed mid-step is retried for that pod only', () => {
    const c = cluster({ replicas: 5 }, statusWith(cluster(), op({ type: 'Join', nodes: [pod(3), pod(4)], targetReplicas: 5, step: 'Joining' })));
    const v = view([...members(3), member(3, 'joining')], { staged: [{ action: 'join', node: node(3) }] });
    const obs = { ...objectsFor(c, 5), pods: [0, 1, 2, 3].map((i) => podObs(i, v)).concat(podObs(4, standalone(4))), pvcs: [] };
    const d = reconcile(input(c, obs, { lastError: 'admin join on c-4 failed: 503' }));
    assert.deepEqual(nonEvents(d.actions), [`admin:join:${pod(4)}<-${pod(0)}`]);
    assert.equal(d.status.conditions?.find((x) => x.type === 'Degraded')?.reason, 'ActionFailed');
  });

  it('a pod that belongs to another multi-node cluster is never joined', () => {
    const c = cluster({ replicas: 4 }, statusWith(cluster(), op({ type: 'Join', nodes: [pod(3)], targetReplicas: 4 })));
    const elsewhere = view([member(3), { ...member(9), name: 'rkv@other' }]);
    const obs = { ...objectsFor(c, 4), pods: [...steady(c, 3).pods, podObs(3, elsewhere)], pvcs: [] };
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.message ?? '', /belongs to another cluster/);
  });

  it('changes staged outside the operator block the commit', () => {
    const c = cluster({ replicas: 4 }, statusWith(cluster(), op({ type: 'Join', nodes: [pod(3)], targetReplicas: 4, step: 'Joining' })));
    const v = view([...members(3), member(3, 'joining')], { staged: [{ action: 'join', node: node(3) }, { action: 'leave', node: node(1) }] });
    const d = reconcile(input(c, { ...objectsFor(c, 4), pods: [0, 1, 2, 3].map((i) => podObs(i, v)), pvcs: [] }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.message ?? '', /staged outside the operator: leave/);
  });
});
