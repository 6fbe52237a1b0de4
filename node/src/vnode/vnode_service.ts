import type { Logger } from 'pino';
import type { Content, RkvObject } from '../object/object.js';
import { decodeObject, encodeObject } from '../object/codec.js';
import type { VClock } from '../object/vclock.js';
import type { RingManager } from '../cluster/ring_manager.js';
import type { Transport } from '../cluster/transport.js';
import type { VnodeRouter } from '../kv/router.js';
import type { Target } from '../kv/preflist.js';
import type { BKey, Vnode } from './vnode.js';
import { partitionOfHash, replicaPartitions } from '../ring/chash.js';
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
  /** ring size the sender addressed: old and new vnodes coexist during a resize */
  rs: number;
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
    /** the bucket's n_val, for placing keys in a new ring */
    private readonly nval: (bucket: Buffer) => number,
    lwwOf: (bucket: Buffer) => boolean,
  ) {
    transport.handle('resize_batch', async (body) => {
      const w = body as { size: number; items: [Buffer, Buffer, number, Buffer, number][] };
      await this.applyResizeBatch(w.size, w.items, lwwOf);
      return null;
    });
    transport.handle('vnode_get', async (body) => {
      const w = body as WireBKey;
      const obj = await this.get(w.p, bkeyOf(w), w.primary, w.fwd === true, w.rs);
      return obj ? encodeObject(obj) : null;
    });
    transport.handle('vnode_coord_put', async (body) => {
      const w = body as WireBKey & { content: WireContent; context: [string, number][] | null; lww: boolean };
      const ctx = w.context ? Object.fromEntries(w.context) : undefined;
      return encodeObject(await this.coordinatePut(w.p, bkeyOf(w), contentOf(w.content), ctx, w.lww, w.primary, w.fwd === true, w.rs));
    });
    transport.handle('vnode_reap', async (body) => {
      const w = body as WireBKey & { clock: [string, number][] };
      return this.vnodes.vnode(w.p, w.rs).reap(bkeyOf(w), Object.fromEntries(w.clock));
    });
    transport.handle('vnode_merge_put', async (body) => {
      const w = body as WireBKey & { obj: Buffer; lww: boolean };
      await this.mergePut(w.p, bkeyOf(w), decodeObject(w.obj), w.lww, w.primary, w.fwd === true, w.rs);
      return null;
    });
  }

  setForwarding(partition: number, to: string | undefined): void {
    if (to === undefined) this.forwarding.delete(partition);
    else this.forwarding.set(partition, to);
  }

  /** The owner to forward a primary request to, when it is not us. */
  private redirect(partition: number, primary: boolean, forwarded: boolean, size: number): string | undefined {
    if (!primary || forwarded) return undefined;
    const r = this.ring.current;
    const owners = size === r.ringSize ? r.owners : size === r.resize?.size ? r.resize.owners : undefined;
    const owner = owners?.[partition];
    if (owner === undefined || owner === this.ring.self) return undefined;
    // still the sender of a pending ownership transfer: we serve until it completes
    if (r.next.some((t) => t.partition === partition && t.from === this.ring.self)) return undefined;
    // not dialled yet counts as up: serving from our (stale or empty) copy instead would be worse
    return this.transport.isDown(owner) ? undefined : owner;
  }

  async get(partition: number, b: BKey, primary: boolean, forwarded: boolean, size: number): Promise<RkvObject | undefined> {
    const to = this.redirect(partition, primary, forwarded, size);
    if (to) return remoteGet(this.transport, this.ring.peer(to), partition, b, true, true, size);
    return this.vnodes.vnode(partition, size).get(b);
  }

  async coordinatePut(partition: number, b: BKey, content: Content, ctx: VClock | undefined, lww: boolean, primary: boolean, forwarded: boolean, size: number): Promise<RkvObject> {
    const to = this.redirect(partition, primary, forwarded, size);
    if (to) return remoteCoordinatePut(this.transport, this.ring.peer(to), partition, b, content, ctx, lww, true, true, size);
    const obj = await this.vnodes.vnode(partition, size).coordinatePut(b, content, ctx, lww);
    await this.forward(partition, size, b, obj, lww);
    return obj;
  }

  async mergePut(partition: number, b: BKey, obj: RkvObject, lww: boolean, primary: boolean, forwarded: boolean, size: number): Promise<void> {
    const to = this.redirect(partition, primary, forwarded, size);
    if (to) return remoteMergePut(this.transport, this.ring.peer(to), partition, b, obj, lww, true, true, size);
    const merged = await this.vnodes.vnode(partition, size).mergePut(b, obj, lww);
    await this.forward(partition, size, b, merged, lww);
  }

  /**
   * Writes that must also land elsewhere: during a handoff the receiver gets
   * every write the fold may already have passed; a vnode of a ring size that
   * is being (or has been) replaced sends the write to the key's replicas in
   * the new ring, so a resize loses nothing written while it copies.
   */
  private async forward(partition: number, size: number, b: BKey, obj: RkvObject, lww: boolean): Promise<void> {
    const to = this.forwarding.get(partition);
    if (to && size === this.ring.current.ringSize && this.ring.current.members[to]) {
      try {
        await remoteMergePut(this.transport, this.ring.peer(to), partition, b, obj, lww, false, true, size);
      } catch (e) {
        // the handoff's own fold retries the whole partition; the local write stands
        this.logger.warn({ partition, to, err: (e as Error).message }, 'handoff forward failed');
      }
    }
    const target = this.rehomeTarget(size);
    if (target) {
      try {
        await this.sendToRing(target, [{ bkey: b, obj }], lww);
      } catch (e) {
        // the resize copy (or the later re-homing of old-size data) carries it over
        this.logger.warn({ partition, size, err: (e as Error).message }, 'resize forward failed');
      }
    }
  }

  /** The ring whose replicas data of `size` belongs in, when that is not `size` itself. */
  rehomeTarget(size: number): { size: number; owners: string[] } | undefined {
    if (!this.rehomes(size)) return undefined;
    const r = this.ring.current;
    return r.resize ? { size: r.resize.size, owners: r.resize.owners } : { size: r.ringSize, owners: r.owners };
  }

  /** Whether data of `size` belongs in another ring (rehomeTarget without building it: asked on every write). */
  private rehomes(size: number): boolean {
    const r = this.ring.current;
    return size !== (r.resize ? r.resize.size : r.ringSize);
  }

  /** Merges objects into their replicas in a given ring (resize copy and forwarding), one request per node. */
  async sendToRing(target: { size: number; owners: string[] }, items: { bkey: BKey; obj?: RkvObject; raw?: Buffer }[], lww: boolean | ((bucket: Buffer) => boolean)): Promise<number> {
    const byNode = new Map<string, [Buffer, Buffer, number, Buffer, number][]>();
    let bytes = 0;
    for (const it of items) {
      const value = it.raw ?? encodeObject(it.obj!);
      const n = Math.min(this.nval(it.bkey.bucket), target.size);
      for (const q of replicaPartitions(partitionOfHash(it.bkey.hash32, target.size), target.size, n)) {
        const node = target.owners[q]!;
        let list = byNode.get(node);
        if (!list) byNode.set(node, (list = []));
        list.push([it.bkey.bucket, it.bkey.key, it.bkey.hash32, value, q]);
        bytes += value.length;
      }
    }
    const lwwOf = typeof lww === 'function' ? lww : () => lww;
    await Promise.all(
      [...byNode].map(([node, list]) =>
        node === this.ring.self ? this.applyResizeBatch(target.size, list, lwwOf) : this.transport.request(this.ring.peer(node), 'resize_batch', { size: target.size, items: list }),
      ),
    );
    return bytes;
  }

  async applyResizeBatch(size: number, items: [Buffer, Buffer, number, Buffer, number][], lww: (bucket: Buffer) => boolean): Promise<void> {
    // one merge batch per target vnode; the frame's buffers are copies already (frame.ts), and the backend copies what it stores
    const byPartition = new Map<number, { bkey: BKey; obj: RkvObject; raw: Buffer }[]>();
    for (const [bucket, key, hash32, raw, q] of items) {
      let list = byPartition.get(q);
      if (!list) byPartition.set(q, (list = []));
      list.push({ bkey: { bucket, key, hash32 }, obj: decodeObject(raw), raw });
    }
    await Promise.all([...byPartition].map(([q, list]) => this.vnodes.vnode(q, size).mergeMany(list, lww)));
  }

  /**
   * The local vnode of a target when a request to it can run synchronously:
   * nothing would redirect it to another owner, and for a write nothing must
   * also receive it (a handoff's forwarding, a resize's re-homing).
   */
  immediate(t: Target, write: boolean): Vnode | undefined {
    if (t.node !== this.ring.self) return undefined;
    const size = t.ringSize ?? this.ring.current.ringSize;
    if (this.redirect(t.partition, t.primary, false, size) !== undefined) return undefined;
    if (write && (this.forwarding.size > 0 || this.rehomes(size))) return undefined;
    const v = this.vnodes.vnode(t.partition, size);
    return (write ? v.immediate : v.readable) ? v : undefined;
  }

  /** The coordinators' router: local targets call straight in, remote ones go over the transport. */
  router(): VnodeRouter {
    const self = this.ring.self;
    // targets come from the current ring (the old one, while a resize copies); the size they were
    // computed with goes along, as the ring can switch size while a request is in flight
    const rs = (t: Target) => t.ringSize ?? this.ring.current.ringSize;
    return {
      get: (t: Target, b) => (t.node === self ? this.get(t.partition, b, t.primary, false, rs(t)) : remoteGet(this.transport, this.ring.peer(t.node), t.partition, b, t.primary, false, rs(t))),
      coordinatePut: (t: Target, b, content, ctx, lww) =>
        t.node === self
          ? this.coordinatePut(t.partition, b, content, ctx, lww, t.primary, false, rs(t))
          : remoteCoordinatePut(this.transport, this.ring.peer(t.node), t.partition, b, content, ctx, lww, t.primary, false, rs(t)),
      mergePut: (t: Target, b, obj, lww) =>
        t.node === self ? this.mergePut(t.partition, b, obj, lww, t.primary, false, rs(t)) : remoteMergePut(this.transport, this.ring.peer(t.node), t.partition, b, obj, lww, t.primary, false, rs(t)),
      immediate: (t: Target, write: boolean) => this.immediate(t, write),
      reap: async (t: Target, b, clock) =>
        t.node === self
          ? this.vnodes.vnode(t.partition, rs(t)).reap(b, clock)
          : ((await this.transport.request(this.ring.peer(t.node), 'vnode_reap', { ...wire(t.partition, b, t.primary, false, rs(t)), clock: Object.entries(clock) })) as boolean),
    };
  }
}

type Peer = { name: string; address: string };

function wire(partition: number, b: BKey, primary: boolean, fwd: boolean, rs: number): WireBKey {
  return { p: partition, b: b.bucket, k: b.key, h: b.hash32, primary, fwd, rs };
}

function bkeyOf(w: WireBKey): BKey {
  return { bucket: Buffer.from(w.b), key: Buffer.from(w.k), hash32: w.h };
}

function contentOf(c: WireContent): Content {
  const out: Content = { value: Buffer.from(c.value), contentType: c.contentType, lastModified: c.lastModified, deleted: c.deleted };
  if (c.expiresAt !== undefined) out.expiresAt = c.expiresAt;
  return out;
}

async function remoteGet(t: Transport, peer: Peer, partition: number, b: BKey, primary: boolean, fwd: boolean, rs: number): Promise<RkvObject | undefined> {
  const res = (await t.request(peer, 'vnode_get', wire(partition, b, primary, fwd, rs))) as Buffer | null;
  return res ? decodeObject(Buffer.from(res)) : undefined;
}

async function remoteCoordinatePut(t: Transport, peer: Peer, partition: number, b: BKey, content: Content, ctx: VClock | undefined, lww: boolean, primary: boolean, fwd: boolean, rs: number): Promise<RkvObject> {
  const body = { ...wire(partition, b, primary, fwd, rs), content, context: ctx ? Object.entries(ctx) : null, lww };
  return decodeObject(Buffer.from((await t.request(peer, 'vnode_coord_put', body)) as Buffer));
}

async function remoteMergePut(t: Transport, peer: Peer, partition: number, b: BKey, obj: RkvObject, lww: boolean, primary: boolean, fwd: boolean, rs: number): Promise<void> {
  await t.request(peer, 'vnode_merge_put', { ...wire(partition, b, primary, fwd, rs), obj: encodeObject(obj), lww });
}
