import type { Transport } from '../cluster/transport.js';
import type { RingManager } from '../cluster/ring_manager.js';
import { partitionEnd, partitionStart, partitionsReplicatedBy, replicaPartitions } from '../ring/chash.js';
import { decodeObject } from '../object/codec.js';
import type { VnodeManager } from './manager.js';
import type { HandoffProgress } from './handoff_sender.js';
import { BATCH_BYTES, BATCH_ITEMS } from './handoff_sender.js';

/**
 * Repair handoff (riak_kv_vnode repair): rebuilds one partition from its
 * neighbours. Vnode p holds the keys of the arcs p-n+1..p; every other replica
 * of each such arc holds them too, so each neighbour is folded, filtered to
 * that arc's hash range, and merged into p. Merging makes it safe to run on a
 * partition that still has data, and to run again.
 */
type WireItem = [Buffer, Buffer, number, Buffer];

export function registerRepairSource(transport: Transport, vnodes: VnodeManager): void {
  transport.handle('repair_fold', async (body) => {
    const b = body as { partition: number; size: number; fromHash: number; toHash: number; after: Buffer | null };
    const batch = await vnodes.vnode(b.partition, b.size).foldBatch(b.after ? Buffer.from(b.after) : undefined, BATCH_ITEMS, BATCH_BYTES, b.fromHash, b.toHash);
    const items: WireItem[] = batch.items.map((i) => [i.bkey.bucket, i.bkey.key, i.bkey.hash32, i.value]);
    return { items, last: batch.last ?? null, done: batch.done };
  });
}

export interface RepairDeps {
  ring: RingManager;
  transport: Transport;
  vnodes: VnodeManager;
  nval: number;
  lww: (bucket: Buffer) => boolean;
  progress: HandoffProgress;
  cancelled: () => boolean;
  timeoutMs: number;
}

export async function repairPartition(partition: number, d: RepairDeps): Promise<void> {
  const ring = d.ring.current;
  const size = ring.ringSize;
  const n = Math.min(d.nval, size);
  const target = d.vnodes.vnode(partition, size);
  for (const arc of partitionsReplicatedBy(partition, size, n)) {
    for (const source of replicaPartitions(arc, size, n)) {
      if (source === partition) continue;
      const owner = ring.owners[source]!;
      let after: Buffer | null = null;
      for (;;) {
        if (d.cancelled()) throw new Error('repair cancelled');
        const req = { partition: source, size, fromHash: partitionStart(arc, size), toHash: partitionEnd(arc, size), after };
        const res = (
          owner === d.ring.self
            ? await localFold(d.vnodes, req)
            : await d.transport.request(d.ring.peer(owner), 'repair_fold', req, { timeoutMs: d.timeoutMs })
        ) as { items: WireItem[]; last: Buffer | null; done: boolean };
        await Promise.all(
          res.items.map(([bucket, key, hash32, value]) => {
            const bk = Buffer.from(bucket);
            d.progress.bytes += value.length;
            return target.mergePut({ bucket: bk, key: Buffer.from(key), hash32 }, decodeObject(Buffer.from(value)), d.lww(bk));
          }),
        );
        d.progress.objects += res.items.length;
        after = res.last ? Buffer.from(res.last) : after;
        if (res.done) break;
      }
    }
  }
}

async function localFold(vnodes: VnodeManager, b: { partition: number; size: number; fromHash: number; toHash: number; after: Buffer | null }) {
  const batch = await vnodes.vnode(b.partition, b.size).foldBatch(b.after ?? undefined, BATCH_ITEMS, BATCH_BYTES, b.fromHash, b.toHash);
  return { items: batch.items.map((i) => [i.bkey.bucket, i.bkey.key, i.bkey.hash32, i.value]), last: batch.last ?? null, done: batch.done };
}
