/**
 * A coordinator's targets name the ring size their partitions belong to: a
 * resize that switches the ring while a put or get is in flight must not send
 * a partition number of the old ring to a vnode of the new one (found by the
 * resize cluster test: entries of a 64-ring partition stored in vnode 50 of a
 * 32-partition ring).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../../node/src/api/metrics.js';
import { BucketRegistry } from '../../../node/src/kv/buckets.js';
import type { Target } from '../../../node/src/kv/preflist.js';
import type { VnodeRouter } from '../../../node/src/kv/router.js';
import { KvService } from '../../../node/src/kv/service.js';
import { applyWrite } from '../../../node/src/object/object.js';
import { keyHash32, partitionOfHash, replicaPartitions } from '../../../node/src/ring/chash.js';
import { freshRing, type Ring } from '../../../node/src/ring/ring.js';

const self = { name: 'n1', status: 'valid' as const, clusterAddress: '127.0.0.1:1', httpAddress: '127.0.0.1:2' };

describe('targets keep the ring size they were computed from', () => {
  it('a ring that switches 64 -> 32 between the coordinated write and the replica writes does not mix partition numbers', async () => {
    let ring: Ring = freshRing('c', 'rkv', self, 64);
    const seen: { op: string; partition: number; ringSize: number | undefined }[] = [];
    const obj = applyWrite(undefined, {}, { value: Buffer.from('v'), contentType: 'text/plain', lastModified: 1, deleted: false }, 'a');
    const record = (op: string, t: Target) => seen.push({ op, partition: t.partition, ringSize: t.ringSize });
    const router: VnodeRouter = {
      get: async (t) => (record('get', t), undefined),
      coordinatePut: async (t) => {
        record('coordinatePut', t);
        ring = { ...freshRing('c', 'rkv', self, 32), version: 2 }; // the resize completes now
        return obj;
      },
      mergePut: async (t) => void record('mergePut', t),
      reap: async () => true,
    };
    const defaults = { n_val: 3, r: 'quorum', w: 'all', pr: 0, pw: 0, dw: 'all', allow_mult: false, last_write_wins: false } as const;
    const kv = new KvService({
      self: 'n1',
      ring: () => ring,
      upNodes: () => new Set(['n1']),
      router,
      buckets: new BucketRegistry(() => undefined, defaults, async () => undefined),
      metrics: new Metrics(),
      now: () => 1,
      timeoutMs: 1000,
      count: async () => 0,
      scan: async () => ({ cursor: 0, keys: [] }),
    });
    const key = Buffer.from('k');
    await kv.put(Buffer.from('default'), key, { value: Buffer.from('v'), contentType: 'text/plain' }, undefined);
    const want = replicaPartitions(partitionOfHash(keyHash32(Buffer.from('default'), key), 64), 64, 3);
    assert.deepEqual(seen.map((s) => s.op), ['coordinatePut', 'mergePut', 'mergePut']);
    assert.deepEqual(seen.map((s) => [s.partition, s.ringSize]).sort(), want.map((p) => [p, 64]).sort());
  });
});
