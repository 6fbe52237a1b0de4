import type { Logger } from 'pino';
import type { Content, RkvObject } from '../object/object.js';
import { decodeObject, encodeObject } from '../object/codec.js';
import type { VClock } from '../object/vclock.js';
import type { RingManager } from '../cluster/ring_manager.js';
import type { Transport } from '../cluster/transport.js';
import type { VnodeRouter } from '../kv/router.js';
import type { Target } from '../kv/preflist.js';
import type { BKey, Vnode } from './vnode.js';
import type { VnodeManager } from './manager.js';

/**
 * Where vnode requests land on a node, whether they come from a local
 * coordinator or over the transport. Two riak_core behaviours live here:
 * a primary request for a partition this node no longer owns is forwarded
 * to the owner (the sender's ring was stale), and writes to a partition being
 * handed off are also sent to the receiver so none is lost.
 */
interface WireBKey {
  p: number;
  b: Buffer;
  k: Buffer;
  h: number;
  /** the coordinator addressed us as a primary (not as a fallback) */
  primary: boolean;
  /** forwarded already: serve here whatever our ring says */
  fwd?: boolean;
}

interface WireContent {
  value: Buffer;
  contentType: string;
  lastModified: number;
  deleted: boolean;
  expiresAt?: number;
}

export class VnodeService {
  /** partition -> node receiving its handoff: writes go to both */
  private readonly forwarding = new Map<number, string>();

  constructor(
    private readonly vnodes: VnodeManager,
    private readonly ring: RingManager,
    private readonly transport: Transport,
    private readonly logger: Logger,
  ) {
    transport.handle('vnode_get', async (body) => {
      const w = body as WireBKey;
      const obj = await this.get(w.p, bkeyOf(w), w.primary, w.fwd === true);
      return obj ? encodeObject(obj) : null;
    });
    transport.handle('vnode_coord_put', async (body) => {
      const w = body as WireBKey & { content: WireContent; context: [string, number][] | null; lww: boolean };
      const ctx = w.context ? Object.fromEntries(w.context) : undefined;
      return encodeObject(await this.coordinatePut(w.p, bkeyOf(w), contentOf(w.content), ctx, w.lww, w.primary, w.fwd === true));
    });
    transport.handle('vnode_reap', async (body) => {
      const w = body as WireBKey & { clock: [string, number][] };
      return this.vnode(w.p).reap(bkeyOf(w), Object.fromEntries(w.clock));
    });
    transport.handle('vnode_merge_put', async (body) => {
      const w = body as WireBKey & { obj: Buffer; lww: boolean };
      await this.mergePut(w.p, bkeyOf(w), decodeObject(w.obj), w.lww, w.primary, w.fwd === true);
      return null;
    });
  }

  setForwarding(partition: number, to: string | undefined): void {
    if (to === undefined) this.forwarding.delete(partition);
    else this.forwarding.set(partition, to);
  }

  /** The owner to forward a primary request to, when it is not us. */
  private redirect(partition: number, primary: boolean, forwarded: boolean): string | undefined {
    if (!primary || forwarded) return undefined;
    const r = this.ring.current;
    const owner = r.owners[partition];
    if (owner === undefined || owner === this.ring.self) return undefined;
    // still the sender of a pending ownership transfer: we serve until it completes
    if (r.next.some((t) => t.partition === partition && t.from === this.ring.self)) return undefined;
    return this.transport.isReachable(owner) ? owner : undefined;
  }

  private vnode(partition: number): Vnode {
    return this.vnodes.vnode(partition);
  }

  async get(partition: number, b: BKey, primary: boolean, forwarded: boolean): Promise<RkvObject | undefined> {
    const to = this.redirect(partition, primary, forwarded);
    if (to) return remoteGet(this.transport, this.ring.peer(to), partition, b, true, true);
    return this.vnode(partition).get(b);
  }

  async coordinatePut(partition: number, b: BKey, content: Content, ctx: VClock | undefined, lww: boolean, primary: boolean, forwarded: boolean): Promise<RkvObject> {
    const to = this.redirect(partition, primary, forwarded);
    if (to) return remoteCoordinatePut(this.transport, this.ring.peer(to), partition, b, content, ctx, lww, true, true);
    const obj = await this.vnode(partition).coordinatePut(b, content, ctx, lww);
    await this.forward(partition, b, obj, lww);
    return obj;
  }

  async mergePut(partition: number, b: BKey, obj: RkvObject, lww: boolean, primary: boolean, forwarded: boolean): Promise<void> {
    const to = this.redirect(partition, primary, forwarded);
    if (to) return remoteMergePut(this.transport, this.ring.peer(to), partition, b, obj, lww, true, true);
    const merged = await this.vnode(partition).mergePut(b, obj, lww);
    await this.forward(partition, b, merged, lww);
  }

  /** During a handoff the receiver gets every write the fold may already have passed. */
  private async forward(partition: number, b: BKey, obj: RkvObject, lww: boolean): Promise<void> {
    const to = this.forwarding.get(partition);
    if (!to || !this.ring.current.members[to]) return;
    try {
      await remoteMergePut(this.transport, this.ring.peer(to), partition, b, obj, lww, false, true);
    } catch (e) {
      // the handoff's own fold retries the whole partition; the local write stands
      this.logger.warn({ partition, to, err: (e as Error).message }, 'handoff forward failed');
    }
  }

  /** The coordinators' router: local targets call straight in, remote ones go over the transport. */
  router(): VnodeRouter {
    const self = this.ring.self;
    return {
      get: (t: Target, b) => (t.node === self ? this.get(t.partition, b, t.primary, false) : remoteGet(this.transport, this.ring.peer(t.node), t.partition, b, t.primary, false)),
      coordinatePut: (t: Target, b, content, ctx, lww) =>
        t.node === self ? this.coordinatePut(t.partition, b, content, ctx, lww, t.primary, false) : remoteCoordinatePut(this.transport, this.ring.peer(t.node), t.partition, b, content, ctx, lww, t.primary, false),
      mergePut: (t: Target, b, obj, lww) =>
        t.node === self ? this.mergePut(t.partition, b, obj, lww, t.primary, false) : remoteMergePut(this.transport, this.ring.peer(t.node), t.partition, b, obj, lww, t.primary, false),
      reap: async (t: Target, b, clock) =>
        t.node === self
          ? this.vnode(t.partition).reap(b, clock)
          : ((await this.transport.request(this.ring.peer(t.node), 'vnode_reap', { ...wire(t.partition, b, t.primary, false), clock: Object.entries(clock) })) as boolean),
    };
  }
}

type Peer = { name: string; address: string };

function wire(partition: number, b: BKey, primary: boolean, fwd: boolean): WireBKey {
  return { p: partition, b: b.bucket, k: b.key, h: b.hash32, primary, fwd };
}

function bkeyOf(w: WireBKey): BKey {
  return { bucket: Buffer.from(w.b), key: Buffer.from(w.k), hash32: w.h };
}

function contentOf(c: WireContent): Content {
  const out: Content = { value: Buffer.from(c.value), contentType: c.contentType, lastModified: c.lastModified, deleted: c.deleted };
  if (c.expiresAt !== undefined) out.expiresAt = c.expiresAt;
  return out;
}

async function remoteGet(t: Transport, peer: Peer, partition: number, b: BKey, primary: boolean, fwd: boolean): Promise<RkvObject | undefined> {
  const res = (await t.request(peer, 'vnode_get', wire(partition, b, primary, fwd))) as Buffer | null;
  return res ? decodeObject(Buffer.from(res)) : undefined;
}

async function remoteCoordinatePut(t: Transport, peer: Peer, partition: number, b: BKey, content: Content, ctx: VClock | undefined, lww: boolean, primary: boolean, fwd: boolean): Promise<RkvObject> {
  const body = { ...wire(partition, b, primary, fwd), content, context: ctx ? Object.entries(ctx) : null, lww };
  return decodeObject(Buffer.from((await t.request(peer, 'vnode_coord_put', body)) as Buffer));
}

async function remoteMergePut(t: Transport, peer: Peer, partition: number, b: BKey, obj: RkvObject, lww: boolean, primary: boolean, fwd: boolean): Promise<void> {
  await t.request(peer, 'vnode_merge_put', { ...wire(partition, b, primary, fwd), obj: encodeObject(obj), lww });
}
