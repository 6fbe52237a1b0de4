import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reconcile } from '../../../operator/src/reconcile/reconcile.js';
import { FINALIZER } from '../../../operator/src/reconcile/names.js';
import { NOW, cluster, eventReasons, input, member, members, nonEvents, podObs, statusWith, steady, view } from './fixtures.js';

/** Deletion, spec changes to owned objects, health and the status conventions. */
describe('reconcile: lifecycle and health', () => {
  it('deletion: nodes are stopped first, then the finalizer goes', () => {
    const c = cluster({}, statusWith(cluster(), undefined), { deletionTimestamp: NOW });
    const first = reconcile(input(c, steady(c, 3)));
    assert.deepEqual(nonEvents(first.actions), ['scale:0']);
    assert.equal(first.status.phase, 'Terminating');
    const stopping = steady(c, 3);
    stopping.statefulSet!.replicas = 0;
    assert.deepEqual(nonEvents(reconcile(input(c, stopping)).actions), []);
    const gone = { ...stopping, pods: [] };
    assert.deepEqual(nonEvents(reconcile(input(c, gone)).actions), ['removeFinalizer']);
  });

  it('deletion without our finalizer: nothing to do', () => {
    const c = cluster({}, undefined, { deletionTimestamp: NOW, finalizers: ['other'] });
    assert.deepEqual(reconcile(input(c, steady(c, 3))).actions, []);
    assert.ok(!c.metadata.finalizers?.includes(FINALIZER));
  });

  it('an image change re-applies the StatefulSet keeping its replicas and claim size', () => {
    const before = cluster();
    const c = cluster({ image: 'rkv:0.2.0', storage: { size: '20Gi', retainOnScaleDown: true } }, statusWith(before, undefined));
    const obs = { ...steady(before, 3), hashes: steady(c, 3).hashes };
    const d = reconcile(input(c, obs));
    const apply = d.actions.find((a) => a.kind === 'apply' && a.object.kind === 'StatefulSet') as unknown as { object: { spec: { replicas: number; volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[]; template: { spec: { containers: { image: string }[] } } } } };
    assert.equal(apply.object.spec.replicas, 3);
    assert.equal(apply.object.spec.volumeClaimTemplates[0]!.spec.resources.requests.storage, '10Gi');
    assert.equal(apply.object.spec.template.spec.containers[0]!.image, 'rkv:0.2.0');
    // the bigger volume size reaches the existing PVCs instead
    assert.deepEqual(nonEvents(d.actions).filter((a) => a.startsWith('expandPVC')), ['expandPVC:data-c-0', 'expandPVC:data-c-1', 'expandPVC:data-c-2']);
  });

  it('a transfer limit that differs on a node is set through its admin API', () => {
    const c = cluster({ transferLimit: 4 }, statusWith(cluster(), undefined));
    const d = reconcile(input(c, steady(c, 3)));
    assert.deepEqual(nonEvents(d.actions), ['admin:transferLimit:c-0', 'admin:transferLimit:c-1', 'admin:transferLimit:c-2']);
  });

  it('an unreachable member: Degraded, and no new operation starts', () => {
    const c = cluster({ replicas: 4 }, statusWith(cluster(), undefined));
    const v = view([member(0), member(1), member(2, 'valid', 33.3, 33.3, false)]);
    const obs = { ...steady(c, 3), pods: [podObs(0, v), podObs(1, v), podObs(2, undefined, { ready: false })] };
    const d = reconcile(input(c, obs));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.equal(d.status.conditions?.find((x) => x.type === 'Degraded')?.status, 'True');
    assert.equal(d.status.members?.[2]?.status, 'down');
    assert.equal(d.status.phase, 'Degraded');
    assert.equal(d.status.conditions?.find((x) => x.type === 'Available')?.status, 'False');
  });

  it('a member that is not one of our pods: Degraded, no operation', () => {
    const c = cluster({ replicas: 3 }, statusWith(cluster(), undefined));
    const v = view([...members(3), { name: 'rkv@stranger', status: 'valid', ringPct: 10, pendingPct: 10, reachable: true }]);
    const d = reconcile(input(c, { ...steady(c, 3), pods: [0, 1, 2].map((i) => podObs(i, v)) }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.message ?? '', /not pods of this cluster: rkv@stranger/);
  });

  it('conditions keep lastTransitionTime while their status holds', () => {
    const c = cluster({}, statusWith(cluster(), undefined));
    const first = reconcile(input(c, steady(c, 3)));
    const later = reconcile(input({ ...c, status: first.status }, steady(c, 3), { now: '2031-01-01T00:00:00Z' }));
    assert.deepEqual(later.status.conditions, first.status.conditions);
    const degraded = reconcile(input({ ...c, status: first.status }, steady(c, 3), { now: '2031-01-01T00:00:00Z', lastError: 'boom' }));
    const d = degraded.status.conditions!.find((x) => x.type === 'Degraded')!;
    assert.equal(d.lastTransitionTime, '2031-01-01T00:00:00Z');
    assert.equal(d.message, 'boom');
  });

  it('a dead pod of a formed cluster is not a reason to re-seed or join anything', () => {
    const c = cluster({}, statusWith(cluster(), undefined));
    const v = view([member(0), member(1), member(2, 'valid', 31.3, 31.3, false)]);
    const d = reconcile(input(c, { ...steady(c, 3), pods: [podObs(0, v), podObs(1, v)] }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.deepEqual(eventReasons(d.actions), []);
  });
});
