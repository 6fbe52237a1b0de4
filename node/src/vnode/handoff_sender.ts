import type { Transport } from '../cluster/transport.js';
import type { Vnode } from './vnode.js';
import { encodeEntries } from './handoff_codec.js';

/**
 * Sends one partition to another node, as riak_core_handoff_sender does:
 * handoff_starting, fold in batches (acknowledged, bounded by count and bytes),
 * handoff_finished. The receiver merges every object by causal context, so a
 * batch that is sent twice after a retry changes nothing.
 */
export type HandoffType = 'ownership' | 'hinted' | 'repair' | 'resize';

export interface HandoffJob {
  type: HandoffType;
  partition: number;
  from: string;
  /** receiving node; for a resize '*' (each key goes to its replicas in the new ring) */
  to: string;
  /** ring size of the source vnode (resize and hinted jobs; ownership ones use the current ring) */
  size?: number;
}

export interface HandoffProgress {
  objects: number;
  bytes: number;
}

export const BATCH_ITEMS = 500;
export const BATCH_BYTES = 1024 * 1024;
/** unacknowledged batches per handoff */
export const IN_FLIGHT = 2;

export interface SendOptions {
  transport: Transport;
  peer: { name: string; address: string };
  vnode: Vnode;
  ringVersion: number;
  /** a receiver that says nothing for this long fails the handoff (it is retried) */
  inactivityTimeoutMs: number;
  progress: HandoffProgress;
  /** checked between batches: a cancelled handoff stops cleanly */
  cancelled: () => boolean;
}

export async function sendPartition(job: HandoffJob, o: SendOptions): Promise<void> {
  const timeoutMs = o.inactivityTimeoutMs;
  await o.transport.request(o.peer, 'handoff_start', { partition: job.partition, type: job.type, from: job.from, ringVersion: o.ringVersion, ...(job.size ? { size: job.size } : {}) }, { timeoutMs });
  // Folding the next batch while earlier ones are on the wire keeps disk and network busy at once;
  // at most IN_FLIGHT batches are unacknowledged, so memory stays bounded.
  const inflight: Promise<void>[] = [];
  let after: Buffer | undefined;
  for (;;) {
    if (o.cancelled()) throw new Error('handoff cancelled');
    const batch = await o.vnode.foldBatch(after, BATCH_ITEMS, BATCH_BYTES);
    if (batch.items.length > 0) {
      const entries = encodeEntries(batch.items);
      let bytes = 0;
      for (const i of batch.items) bytes += i.value.length + i.bkey.key.length + i.bkey.bucket.length;
      const count = batch.items.length;
      const sent = o.transport
        .request(o.peer, 'handoff_batch', { partition: job.partition, type: job.type, entries, ...(job.size ? { size: job.size } : {}) }, { timeoutMs })
        .then(() => {
          o.progress.objects += count;
          o.progress.bytes += bytes;
        });
      sent.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled
      inflight.push(sent);
      if (inflight.length >= IN_FLIGHT) await inflight.shift();
    }
    after = batch.last ?? after;
    if (batch.done) break;
  }
  await Promise.all(inflight);
  await o.transport.request(o.peer, 'handoff_finish', { partition: job.partition, type: job.type, objects: o.progress.objects }, { timeoutMs });
}

/**
 * A resize (or re-homing) copy: every key of an old-size vnode is merged into
 * the vnodes of the new ring its hash belongs to, in acknowledged batches.
 */
export async function copyToRing(
  o: Pick<SendOptions, 'vnode' | 'progress' | 'cancelled'> & {
    send: (items: { bkey: import('./vnode.js').BKey; raw: Buffer }[]) => Promise<number>;
  },
): Promise<void> {
  let after: Buffer | undefined;
  for (;;) {
    if (o.cancelled()) throw new Error('resize copy cancelled');
    const batch = await o.vnode.foldBatch(after, BATCH_ITEMS, BATCH_BYTES);
    if (batch.items.length > 0) {
      o.progress.bytes += await o.send(batch.items.map((i) => ({ bkey: i.bkey, raw: i.value })));
      o.progress.objects += batch.items.length;
    }
    after = batch.last ?? after;
    if (batch.done) return;
  }
}
