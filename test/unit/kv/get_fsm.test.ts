import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../../node/src/api/metrics.js';
import { openBackend } from '../../../node/src/backend/open.js';
import { GetFsm } from '../../../node/src/kv/get_fsm.js';
import type { Target } from '../../../node/src/kv/preflist.js';
import type { VnodeRouter } from '../../../node/src/kv/router.js';
import type { RkvObject, Sibling } from '../../../node/src/object/object.js';
import { VnodeManager } from '../../../node/src/vnode/manager.js';
import type { BKey, Vnode } from '../../../node/src/vnode/vnode.js';

const bkey: BKey = { bucket: Buffer.from('default'), key: Buffer.from('register'), hash32: 0x13572468 };

function sibling(value: string, dot: [string, number], lastModified: number): Sibling {
  return { value: Buffer.from(value), contentType: 'text/plain', lastModified, deleted: false, dot };
}

/** Replicas of one partition on three nodes' vnodes (memory backends), reached directly. */
async function replicas(): Promise<{ router: VnodeRouter; vnodes: Map<string, Vnode>; targets: Target[]; repairs: Promise<void>[] }> {
  const vnodes = new Map<string, Vnode>();
  for (const node of ['n1', 'n2', 'n3']) {
    vnodes.set(node, new VnodeManager(await openBackend('memory', ''), () => 16, { epoch: node, generations: {}, counters: {} }).vnode(2));
  }
  const repairs: Promise<void>[] = [];
  const at = (t: Target) => vnodes.get(t.node)!;
  const router: VnodeRouter = {
    get: (t, b) => at(t).get(b),
    coordinatePut: (t, b, content, context, lww) => at(t).coordinatePut(b, content, context, lww),
    mergePut: (t, b, obj, lww) => {
      const done = at(t).mergePut(b, obj, lww).then(() => undefined);
      repairs.push(done);
      return done;
    },
    reap: (t, b, clock) => at(t).reap(b, clock),
  };
  const targets: Target[] = ['n1', 'n2', 'n3'].map((node) => ({ partition: 2, node, primary: true, ringSize: 16 }));
  return { router, vnodes, targets, repairs };
}

describe('get coordinator', () => {
  it('reads a last-write-wins key whose replicas each cover the other\'s value as the newest value, and repairs them', async () => {
    // What skewed coordinator clocks (or a disk restored from a backup) leave: n1 dropped y as older than x,
    // n2 dropped x as superseded by a write of n2's that later lost to y. A causal merge keeps neither.
    const x: RkvObject = { clock: { a: 1, b: 1 }, siblings: [sibling('x', ['a', 1], 20)] };
    const y: RkvObject = { clock: { a: 2, b: 1 }, siblings: [sibling('y', ['b', 1], 10)] };
    const { router, vnodes, targets, repairs } = await replicas();
    await vnodes.get('n1')!.mergePut(bkey, x, true);
    await vnodes.get('n2')!.mergePut(bkey, y, true);
    await vnodes.get('n3')!.mergePut(bkey, y, true);
    repairs.length = 0;

    const fsm = new GetFsm({ bkey, targets, r: 3, pr: 0, lww: true, timeoutMs: 1000 }, router, new Metrics(), () => 30);
    const result = await fsm.run();
    assert.ok(result.found, 'the key is there');
    assert.deepEqual(result.siblings.map((s) => s.value.toString()), ['x']);
    await Promise.all(repairs);
    assert.equal(repairs.length, 3, 'every replica lacked part of the merge: n1 its clock, n2 and n3 its value');
    for (const v of vnodes.values()) assert.deepEqual((await v.get(bkey))!.siblings.map((s) => s.value.toString()), ['x']);
  });
});
