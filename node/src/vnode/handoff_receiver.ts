import type { Logger } from 'pino';
import type { Transport } from '../cluster/transport.js';
import type { RingManager } from '../cluster/ring_manager.js';
import type { Ring } from '../ring/ring.js';
import { decodeEntries } from './handoff_codec.js';
import type { VnodeManager } from './manager.js';

/**
 * The receiving half of a handoff (riak_core_handoff_receiver): every object
 * is merged into the local vnode (handle_handoff_data), never written blindly;
 * a batch is merged as one read and one write.
 * Before accepting, a receiver whose ring is older than the sender's fetches
 * the sender's ring, so it knows the partition is coming to it.
 */
export function registerHandoffReceiver(deps: {
  transport: Transport;
  ring: RingManager;
  vnodes: VnodeManager;
  lww: (bucket: Buffer) => boolean;
  logger: Logger;
  onData?: (partition: number) => void;
}): void {
  const { transport, ring, vnodes, logger } = deps;
  transport.handle('handoff_start', async (body, from) => {
    const b = body as { partition: number; type: string; ringVersion: number; size?: number };
    if (b.ringVersion > ring.current.version && ring.current.members[from]) {
      ring.offer((await transport.request(ring.peer(from), 'ring_get', {})) as Ring);
    }
    logger.info({ partition: b.partition, type: b.type, from }, 'handoff receiving');
    // an empty receiving vnode (the usual case of an ownership handoff) then merges every batch without reads
    if (typeof b.partition === 'number') await vnodes.vnode(b.partition, typeof b.size === 'number' ? b.size : undefined).isEmpty();
    return { ok: true };
  });
  transport.handle('handoff_batch', async (body) => {
    const b = body as { partition: number; entries: Uint8Array; size?: number };
    if (!(b.entries instanceof Uint8Array)) throw new Error('handoff batch without entries');
    // the sender's ring size: partition numbers of two ring sizes must never be mixed (data of
    // another size than ours is re-homed by the handoff manager)
    const vnode = vnodes.vnode(b.partition, typeof b.size === 'number' ? b.size : undefined);
    // views into the frame (the backend copies what it stores); every key is checked to be this vnode's
    const entries = decodeEntries(b.entries);
    await vnode.mergeStored(entries, deps.lww);
    deps.onData?.(b.partition);
    return { n: entries.length };
  });
  transport.handle('handoff_finish', async (body, from) => {
    const b = body as { partition: number; type: string; objects: number };
    logger.info({ partition: b.partition, type: b.type, from, objects: b.objects }, 'handoff received');
    return { ok: true };
  });
}
