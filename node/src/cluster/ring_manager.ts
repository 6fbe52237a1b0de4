import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { freshRing, isMember, type Member, type Ring } from '../ring/ring.js';
import { setBucketProps, stageResize, abortResize, completeResizePartition, clearStaged, commit, completeTransfer, mergeRings, plan, removeExited, stageForceRemove, stageJoin, stageLeave, takeOverClaimant, MembershipError, type Plan, updateAddresses } from '../ring/membership.js';
import { saveRing } from '../ring/ring_store.js';
import type { PendingTransfer } from '../ring/ring.js';
import { TransportError, type Transport } from './transport.js';

/**
 * The one owner of this node's copy of the ring (riak_core_ring_manager +
 * claimant + gossip). Changes are pure transactions applied by the claimant;
 * every node adopts newer rings it hears of, persists them before acting on
 * them, and tells its listeners.
 */
export type ClaimantOp =
  | { op: 'join'; member: Member; ringSize: number }
  | { op: 'leave'; node: string }
  | { op: 'force_remove'; node: string; by: string }
  | { op: 'plan' }
  | { op: 'commit' }
  | { op: 'clear' }
  | { op: 'complete'; transfer: PendingTransfer }
  | { op: 'exited'; node: string }
  | { op: 'addresses'; node: string; clusterAddress: string; httpAddress: string }
  | { op: 'bucket_props'; bucket: string; props: Record<string, unknown> }
  | { op: 'resize'; size: number; by: string }
  | { op: 'resize_abort' }
  | { op: 'resize_complete'; partition: number };

export type RingListener = (ring: Ring, previous: Ring) => void;

export interface RingManagerOptions {
  dataDir: string;
  self: Member;
  transport: Transport;
  logger: Logger;
  gossipIntervalMs?: number;
  /** counts gossip rounds (rkv_gossip_rounds_total) */
  onGossipRound?: () => void;
  /** mints cluster ids for fresh rings (injected for deterministic tests) */
  mintId?: () => string;
}

/** Gossip rounds (10 s at the default interval) an exiting member has to confirm it left. */
export const EXITING_GRACE_ROUNDS = 20;

export function ringDigest(r: Ring): string {
  return createHash('sha1').update(JSON.stringify(r)).digest('hex');
}

export class RingManager {
  private ring: Ring;
  private readonly listeners: RingListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    initial: Ring,
    private readonly o: RingManagerOptions,
  ) {
    this.ring = initial;
    const t = o.transport;
    t.onCast('ring_version', (body, from) => this.onVersion(body as { clusterId: string; version: number; digest: string; address?: string }, from));
    t.onCast('ring_gossip', (body) => this.offer(body as Ring));
    t.handle('ring_get', async () => this.ring);
    t.handle('claimant_op', async (body) => this.claimantOp(body as ClaimantOp & { hops?: number }));
    t.handle('cluster_join_request', async (body) => this.claimantOp({ ...(body as ClaimantOp), op: 'join' } as ClaimantOp));
  }

  get current(): Ring {
    return this.ring;
  }

  get self(): string {
    return this.o.self.name;
  }

  onChange(fn: RingListener): void {
    this.listeners.push(fn);
  }

  peer(name: string): { name: string; address: string } {
    const m = this.ring.members[name];
    if (!m) throw new MembershipError(`${name} is not a member of this cluster`, 'not_member');
    return { name, address: m.clusterAddress };
  }

  start(): void {
    const every = this.o.gossipIntervalMs ?? 500;
    this.timer = setInterval(() => this.gossipRound(), every);
    this.timer.unref();
    this.gossipRound();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Waits for the ring writes in flight (tests and shutdown). */
  flushed(): Promise<void> {
    return this.writes;
  }

  /** Every member hears our ring version each round; whoever is behind fetches or receives the newer ring. */
  private gossipRound(): void {
    this.o.onGossipRound?.();
    const r = this.ring;
    const msg = { clusterId: r.clusterId, version: r.version, digest: ringDigest(r), address: this.o.self.clusterAddress };
    for (const m of Object.values(r.members)) {
      if (m.name !== this.self && m.clusterAddress) this.o.transport.cast({ name: m.name, address: m.clusterAddress }, 'ring_version', msg);
    }
    this.maybeTakeOverClaimant();
    this.maybeRecordAddresses();
    this.maybeRemoveExiting();
  }

  /**
   * An exiting member tells the claimant it has gone (`exited`), once. When
   * that message is lost (the claimant was down or changed, the leaver was
   * stopped right after handing off) the claimant drops the member itself
   * after EXITING_GRACE_ROUNDS rounds, as riak_core's claimant removes
   * exiting nodes; a leaver that had not yet noticed learns it from gossip.
   */
  private readonly exitingRounds = new Map<string, number>();
  private maybeRemoveExiting(): void {
    const r = this.ring;
    if (r.claimant !== this.self) {
      this.exitingRounds.clear();
      return;
    }
    for (const name of [...this.exitingRounds.keys()]) if (r.members[name]?.status !== 'exiting') this.exitingRounds.delete(name);
    for (const m of Object.values(r.members)) {
      if (m.status !== 'exiting' || m.name === this.self) continue;
      const rounds = (this.exitingRounds.get(m.name) ?? 0) + 1;
      this.exitingRounds.set(m.name, rounds);
      if (rounds < EXITING_GRACE_ROUNDS) continue;
      this.exitingRounds.delete(m.name);
      this.o.logger.info({ node: m.name, rounds }, 'exiting member never confirmed it left; removing it from the ring');
      this.claimantOp({ op: 'exited', node: m.name }).catch((e: Error) => this.o.logger.warn({ err: e.message, node: m.name }, 'could not remove exiting member'));
    }
  }

  /**
   * The ring lists other addresses for us than we listen on (restarted on a
   * new port or pod IP): peers would dial the old ones forever, so the
   * claimant records the new ones (a versioned change every node adopts).
   */
  private recordingAddresses = false;
  private maybeRecordAddresses(): void {
    const me = this.ring.members[this.self];
    const { clusterAddress, httpAddress } = this.o.self;
    if (!me || this.recordingAddresses || (me.clusterAddress === clusterAddress && me.httpAddress === httpAddress)) return;
    this.recordingAddresses = true;
    this.o.logger.info({ node: this.self, clusterAddress, httpAddress, was: me.clusterAddress }, 'recording our new addresses in the ring');
    this.claimantOp({ op: 'addresses', node: this.self, clusterAddress, httpAddress })
      .catch((e: Error) => this.o.logger.warn({ err: e.message }, 'could not record our addresses at the claimant; retrying'))
      .finally(() => {
        this.recordingAddresses = false;
      });
  }

  private onVersion(v: { clusterId: string; version: number; digest: string; address?: string }, from: string): void {
    const r = this.ring;
    if (v.clusterId !== r.clusterId) return;
    if (!isMember(r, from)) {
      // a node our newer ring no longer lists (force-removed while down, or its staged join cleared):
      // it adopts this ring, sees itself gone and becomes standalone instead of serving from a stale ring
      if (v.version < r.version && typeof v.address === 'string') this.o.transport.cast({ name: from, address: v.address }, 'ring_gossip', r);
      return;
    }
    if (v.version < r.version || (v.version === r.version && v.digest < ringDigest(r))) {
      this.o.transport.cast(this.peer(from), 'ring_gossip', r);
    } else if (v.version > r.version || v.digest !== ringDigest(r)) {
      this.o.transport.request(this.peer(from), 'ring_get', {}).then((ring) => this.offer(ring as Ring), () => undefined);
    }
  }

  /** A ring heard from a peer: adopted when it is newer (same cluster only). */
  offer(incoming: Ring): void {
    const merged = mergeRings(this.ring, incoming, ringDigest);
    if (merged !== this.ring) this.adopt(merged);
  }

  /** Replaces the ring (persisted first, then listeners run) and handles our own departure. */
  adopt(next: Ring): void {
    const prev = this.ring;
    const me = next.members[this.self];
    if (next.clusterId === prev.clusterId && (!me || me.status === 'exiting')) {
      // we left (or were removed, or our staged join was cleared): become a standalone node again
      if (me?.status === 'exiting') this.tellClaimant(next, { op: 'exited', node: this.self });
      this.o.logger.info({ node: this.self, clusterId: next.clusterId }, 'left the cluster; now standalone');
      next = freshRing(this.o.mintId?.() ?? randomBytes(8).toString('hex'), prev.clusterName, { ...this.o.self, status: 'valid' }, prev.ringSize);
      next = { ...next, createdRingSize: prev.createdRingSize };
    }
    this.ring = next;
    this.writes = this.writes.then(() => saveRing(this.o.dataDir, next)).catch((e: Error) => this.o.logger.error({ err: e.message }, 'ring not persisted'));
    for (const fn of this.listeners) fn(next, prev);
  }

  private tellClaimant(ring: Ring, op: ClaimantOp): void {
    const c = ring.members[ring.claimant];
    if (c && c.name !== this.self) this.o.transport.request({ name: c.name, address: c.clusterAddress }, 'claimant_op', op).catch(() => undefined);
  }

  /** Runs a claimant operation here when we are the claimant, else at the claimant (one hop). */
  async claimantOp(op: ClaimantOp & { hops?: number }): Promise<unknown> {
    const r = this.ring;
    if (r.claimant !== this.self) {
      if ((op.hops ?? 0) >= 2) throw new MembershipError(`claimant ${r.claimant} could not be reached`, 'no_claimant');
      const c = r.members[r.claimant];
      if (!c) throw new MembershipError('no claimant known', 'no_claimant');
      try {
        const res = await this.o.transport.request({ name: c.name, address: c.clusterAddress }, 'claimant_op', { ...op, hops: (op.hops ?? 0) + 1 });
        // adopt the claimant's result now rather than at the next gossip round, so callers read their own change
        // (not for a plan: its `ring` is the ring the commit *would* produce, and offering it would commit the plan)
        const ring = op.op === 'plan' ? undefined : (res as { ring?: Ring } | null)?.ring;
        if (ring && typeof ring === 'object' && ring.clusterId === this.ring.clusterId) this.offer(ring);
        return res;
      } catch (e) {
        if (e instanceof TransportError && e.remote) throw new MembershipError(e.remote.message, e.remote.code);
        throw new MembershipError(`claimant ${c.name} did not answer: ${(e as Error).message}`, 'no_claimant');
      }
    }
    const result = this.applyAtClaimant(op);
    if (result === undefined) return { ring: this.ring };
    if ('plan' in result) return result.plan;
    this.adopt(result.ring);
    this.broadcast();
    return { ring: this.ring };
  }

  private applyAtClaimant(op: ClaimantOp): { ring: Ring } | { plan: Plan } | undefined {
    const r = this.ring;
    switch (op.op) {
      case 'join':
        return { ring: stageJoin(r, op.member, op.ringSize) };
      case 'leave':
        return { ring: stageLeave(r, op.node) };
      case 'force_remove':
        return { ring: stageForceRemove(r, op.node, op.by) };
      case 'plan':
        return { plan: plan(r) };
      case 'commit':
        return { ring: commit(r) };
      case 'clear':
        return { ring: clearStaged(r) };
      case 'complete': {
        const next = completeTransfer(r, op.transfer);
        return next === r ? undefined : { ring: next };
      }
      case 'resize':
        return { ring: stageResize(r, op.size, op.by) };
      case 'resize_abort':
        return { ring: abortResize(r) };
      case 'resize_complete': {
        const next = completeResizePartition(r, op.partition);
        return next === r ? undefined : { ring: next };
      }
      case 'bucket_props':
        return { ring: setBucketProps(r, op.bucket, op.props) };
      case 'addresses': {
        const next = updateAddresses(r, op.node, op.clusterAddress, op.httpAddress);
        return next === r ? undefined : { ring: next };
      }
      case 'exited': {
        const next = removeExited(r, op.node);
        return next === r ? undefined : { ring: next };
      }
    }
  }

  /** Pushes the ring to every member at once (after a claimant change) instead of waiting for gossip. */
  broadcast(): void {
    for (const m of Object.values(this.ring.members)) {
      if (m.name !== this.self && m.clusterAddress) this.o.transport.cast({ name: m.name, address: m.clusterAddress }, 'ring_gossip', this.ring);
    }
  }

  /**
   * When the claimant has been unreachable for a while, the lowest-named
   * reachable valid member takes the role, so plans can still be committed
   * (e.g. to force-remove the dead claimant).
   */
  private unreachableSince: number | undefined;
  private maybeTakeOverClaimant(): void {
    const r = this.ring;
    if (r.claimant === this.self || !isMember(r, r.claimant)) {
      this.unreachableSince = undefined;
      if (!isMember(r, r.claimant) && r.members[this.self]?.status === 'valid') {
        const first = Object.values(r.members).filter((m) => m.status === 'valid').map((m) => m.name).sort()[0];
        if (first === this.self) this.adopt(takeOverClaimant(r, this.self));
      }
      return;
    }
    if (this.o.transport.isReachable(r.claimant)) {
      this.unreachableSince = undefined;
      return;
    }
    const now = Date.now();
    this.unreachableSince ??= now;
    if (now - this.unreachableSince < 10_000) return;
    const candidates = Object.values(r.members)
      .filter((m) => m.status === 'valid' && m.name !== r.claimant && (m.name === this.self || this.o.transport.isReachable(m.name)))
      .map((m) => m.name)
      .sort();
    if (candidates[0] === this.self) {
      this.o.logger.warn({ node: this.self, claimant: r.claimant }, 'claimant unreachable; taking over');
      this.adopt(takeOverClaimant(r, this.self));
      this.broadcast();
    }
  }
}
