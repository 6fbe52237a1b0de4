import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { reconcile } from '../../../operator/src/reconcile/reconcile.js';
import { MAX_PARTITIONS_PER_NODE, MIN_PARTITIONS_PER_NODE, targetRingSize } from '../../../operator/src/reconcile/ring_size.js';
import { cluster, eventReasons, input, members, nonEvents, objectsFor, op, pod, podObs, statusWith, steady, view } from './fixtures.js';

/** Ring resize (explicit and autoResize) and conflicting edits. */
describe('reconcile: ring resize', () => {
  it('ring.size 16 -> 32: stages the resize (Resizing)', () => {
    const c = cluster({ ring: { size: 32, autoResize: false } }, statusWith(cluster(), undefined));
    const d = reconcile(input(c, steady(c, 3, { ringSize: 16 })));
    assert.deepEqual(nonEvents(d.actions), [`admin:resize:${pod(0)}:32`]);
    assert.deepEqual(eventReasons(d.actions), ['Resize', 'ResizeStaged']);
    assert.equal(d.status.phase, 'Resizing');
    assert.equal(d.status.conditions?.find((x) => x.type === 'Resizing')?.status, 'True');
  });

  it('resize staged: plan and commit', () => {
    const c = cluster({ ring: { size: 32, autoResize: false } }, statusWith(cluster(), op({ type: 'Resize', ringSize: 32, step: 'Staging' })));
    const d = reconcile(input(c, steady(c, 3, { ringSize: 16, staged: [{ action: 'resize', node: 'rkv@c-0', size: 32 }] })));
    assert.deepEqual(nonEvents(d.actions), [`admin:plan:${pod(0)}`, `admin:commit:${pod(0)}`]);
    assert.deepEqual(eventReasons(d.actions), ['ResizeCommitted']);
  });

  it('copying: waits, reporting the partitions left', () => {
    const c = cluster({ ring: { size: 32, autoResize: false } }, statusWith(cluster(), op({ type: 'Resize', ringSize: 32, step: 'Committing' })));
    const d = reconcile(input(c, steady(c, 3, { ringSize: 16, resize: { to: 32, pendingPartitions: 5 } })));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.equal(d.status.operation?.step, 'Copying');
    assert.equal(d.status.ring?.pendingTransfers, 5);
    assert.equal(d.status.phase, 'Resizing');
  });

  it('switched: the Resize ends; nodes keep the creation size as --ring-size (the ConfigMap does not change)', () => {
    const c = cluster({ ring: { size: 32, autoResize: false } }, statusWith(cluster(), op({ type: 'Resize', ringSize: 32, step: 'Copying' }), { ring: { size: 16, pendingTransfers: 0 } }));
    const d = reconcile(input(c, steady(c, 3, { ringSize: 32 })));
    assert.deepEqual(eventReasons(d.actions), ['ResizeComplete']);
    assert.equal(d.status.operation, undefined);
    assert.equal(d.status.ring?.size, 32);
    const nextPass = reconcile(input({ ...c, status: d.status }, { ...steady(c, 3, { ringSize: 32 }), ...objectsFor(c, 3, 16) }));
    assert.deepEqual(nextPass.actions, []);
    // nodes that report the creation size are believed over the ConfigMap
    const reported = reconcile(input({ ...c, status: d.status }, { ...steady(c, 3, { ringSize: 32, createdRingSize: 8 }), ...objectsFor(c, 3, 16) }));
    const cm = reported.actions.find((a) => a.kind === 'apply' && a.object.kind === 'ConfigMap') as unknown as { object: { data: Record<string, string> } };
    assert.match(cm.object.data['rkv.yaml']!, /ring-size: 8\n/);
  });

  it('a new cluster with autoResize is created at the size the band asks for, not resized after', () => {
    const c = cluster({ replicas: 10, ring: { size: 16, autoResize: true } });
    const d = reconcile(input(c, { pods: [], pvcs: [], hashes: {}, secretExists: true }));
    const cm = d.actions.find((a) => a.kind === 'apply' && a.object.kind === 'ConfigMap') as unknown as { object: { data: Record<string, string> } };
    assert.match(cm.object.data['rkv.yaml']!, /ring-size: 128\n/);
  });

  it('scale-down while resizing: the resize finishes first, then the leave starts', () => {
    const c = cluster({ replicas: 3, ring: { size: 32, autoResize: false } }, statusWith(cluster(), op({ type: 'Resize', ringSize: 32, targetReplicas: 4, step: 'Copying' })));
    const during = reconcile(input(c, steady(c, 4, { ringSize: 16, resize: { to: 32, pendingPartitions: 5 } })));
    assert.deepEqual(nonEvents(during.actions), []);
    assert.equal(during.status.operation?.type, 'Resize');
    const after = reconcile(input(c, steady(c, 4, { ringSize: 32 })));
    assert.deepEqual(nonEvents(after.actions), [`admin:leave:${pod(0)}:rkv@c-3`]);
    assert.deepEqual(eventReasons(after.actions), ['ResizeComplete', 'ScaleDown', 'LeaveStaged']);
  });

  it('a ring size change during a scale-up waits for the Join', () => {
    const c = cluster({ replicas: 4, ring: { size: 32, autoResize: false } }, statusWith(cluster(), op({ type: 'Join', nodes: [pod(3)], targetReplicas: 4, step: 'Transferring' })));
    const v = view(members(4), { pendingOwnershipTransfers: 2 });
    const d = reconcile(input(c, { ...steady(c, 4), pods: [0, 1, 2, 3].map((i) => podObs(i, v)) }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.equal(d.status.operation?.type, 'Join');
  });

  it('autoResize: scaling 3 -> 20 at 64 partitions resizes to 256 once the nodes have joined', () => {
    const c = cluster({ replicas: 20, ring: { size: 64, autoResize: true }, nVal: 3 }, statusWith(cluster(), undefined, { ring: { size: 64, pendingTransfers: 0 } }));
    const d = reconcile(input(c, steady(c, 20, { ringSize: 64 })));
    assert.deepEqual(nonEvents(d.actions), [`admin:resize:${pod(0)}:256`]);
  });
});

describe('targetRingSize (autoResize band)', () => {
  it('table', () => {
    const rows: [size: number, auto: boolean, replicas: number, current: number | undefined, want: number][] = [
      [64, false, 20, 64, 64],
      [64, true, 3, undefined, 64],
      [64, true, 20, 64, 256],
      [64, true, 9, 64, 128],
      [1024, true, 3, 1024, 128],
      [16, true, 3, 16, 32],
      [128, true, 200, 128, 1024],
      [8, true, 1, 8, 8],
    ];
    for (const [size, autoResize, replicas, current, want] of rows) assert.equal(targetRingSize({ ring: { size, autoResize } }, replicas, current), want, `${size} ${autoResize} ${replicas} ${current}`);
  });

  it('property: with autoResize the result is a power of two in 8..1024, in the band whenever the band is reachable, and stable', () => {
    fc.assert(fc.property(fc.constantFrom(8, 16, 32, 64, 128, 256, 512, 1024), fc.integer({ min: 1, max: 128 }), (size, replicas) => {
      const s = targetRingSize({ ring: { size, autoResize: true } }, replicas, size);
      assert.ok(s >= 8 && s <= 1024 && (s & (s - 1)) === 0);
      const per = s / replicas;
      if (replicas * MIN_PARTITIONS_PER_NODE <= 1024 && replicas * MAX_PARTITIONS_PER_NODE >= 8) assert.ok(per >= MIN_PARTITIONS_PER_NODE && per <= MAX_PARTITIONS_PER_NODE, `${s}/${replicas}`);
      assert.equal(targetRingSize({ ring: { size, autoResize: true } }, replicas, s), s);
    }));
  });
});
