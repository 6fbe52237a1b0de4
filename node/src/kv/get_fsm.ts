import { dominates, isTombstone, lastWriteWinsHolds, liveSiblings, mergeReplicas, resolveLastWriteWins, type RkvObject } from '../object/object.js';
import type { BKey } from '../vnode/vnode.js';
import type { Metrics } from '../api/metrics.js';
import type { Target } from './preflist.js';
import type { VnodeRouter } from './router.js';
import { countReply, emptyCounts, tally, type QuorumSpec } from './tally.js';
import { RequestTimeoutError, UnavailableError, type GetResult } from './types.js';
import { Deadline } from './deadline.js';

/** What a get answers for the merged object of the replicas (undefined: none had the key). */
export function getResult(obj: RkvObject | undefined, lww: boolean, now: number, metrics: Metrics): GetResult {
  if (!obj) return { found: false };
  if (isTombstone(obj, now)) return { found: false, context: obj.clock };
  const live = liveSiblings(obj, now);
  // one live sibling is its own last-write-wins resolution
  const siblings = lww && live.length > 1 ? liveSiblings(resolveLastWriteWins({ clock: obj.clock, siblings: live }), now) : live;
  metrics.siblings.observe(siblings.length);
  return { found: true, object: obj, siblings, context: obj.clock };
}

/** True when a replica's answer already holds everything of the merged object (no read repair needed). */
export function upToDate(replica: RkvObject | undefined, merged: RkvObject, lww: boolean): boolean {
  if (replica === undefined) return false;
  if (replica === merged) return true;
  return lww ? lastWriteWinsHolds(replica, merged) : dominates(replica, merged);
}

export interface GetRequest {
  bkey: BKey;
  targets: Target[];
  r: number;
  pr: number;
  /** resolve siblings last-write-wins in the reply (allow_mult=false) */
  lww: boolean;
  timeoutMs: number;
  /**
   * Called when every replica asked was a primary, all answered, and the merged
   * object is a tombstone: the moment to (re)try reaping it, as riak's get fsm
   * does (a delete whose own reap found a primary down is reaped this way later).
   */
  onTombstone?: () => void;
  /** performance.now() when the request started, the base of its deadline (now when omitted) */
  startedAt?: number;
}

interface ReplySlot {
  target: Target;
  done: boolean;
  ok: boolean;
  obj?: RkvObject;
}

/**
 * The get coordinator, after riak_kv_get_fsm: prepare -> execute -> waiting ->
 * finished. It asks every replica, answers the client once R (and PR) replicas
 * answered (notfound counts as an answer: notfound_ok), keeps listening until
 * all replied or the timeout, then repairs every replica that lacked the merge.
 */
export class GetFsm extends Deadline {
  state: 'prepare' | 'execute' | 'waiting' | 'finished' = 'prepare';
  private readonly slots: ReplySlot[];
  private readonly counts = emptyCounts();
  private readonly spec: QuorumSpec;
  private replied = false;
  /** replies not in yet */
  private outstanding: number;
  /** the merge of every object received so far (merging is commutative and associative) */
  private acc: RkvObject | undefined;
  private resolve!: (r: GetResult) => void;
  private reject!: (e: Error) => void;

  constructor(
    private readonly req: GetRequest,
    private readonly router: VnodeRouter,
    private readonly metrics: Metrics,
    private readonly now: () => number,
  ) {
    super();
    const targets = req.targets;
    this.slots = new Array<ReplySlot>(targets.length);
    let primaries = 0;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      this.slots[i] = { target, done: false, ok: false };
      if (target.primary) primaries++;
    }
    this.outstanding = targets.length;
    this.spec = { need: req.r, needPrimary: req.pr, asked: targets.length, askedPrimary: primaries };
  }

  run(): Promise<GetResult> {
    const result = new Promise<GetResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // prepare: refuse at once when the preference list cannot meet the quorum
    if (tally(this.spec, this.counts) === 'lost') {
      this.replyUnavailable();
      this.state = 'finished';
      return result;
    }
    this.state = 'execute';
    for (const slot of this.slots) {
      this.router.get(slot.target, this.req.bkey).then(
        (obj) => this.onReply(slot, true, obj),
        () => this.onReply(slot, false, undefined),
      );
    }
    this.state = 'waiting';
    this.armDeadline(this.req.timeoutMs, this.req.startedAt);
    return result;
  }

  private onReply(slot: ReplySlot, ok: boolean, obj: RkvObject | undefined): void {
    if (this.state === 'finished') return;
    slot.done = true;
    slot.ok = ok;
    this.outstanding--;
    if (obj) {
      slot.obj = obj;
      this.acc = this.acc ? mergeReplicas(this.acc, obj, this.req.lww) : obj;
    }
    countReply(this.counts, ok, slot.target.primary);
    if (!this.replied) {
      const outcome = tally(this.spec, this.counts);
      if (outcome === 'won') this.replyWith(this.acc);
      else if (outcome === 'lost') this.replyUnavailable();
    }
    if (this.outstanding === 0) this.finish();
  }

  protected onDeadline(): void {
    if (!this.replied) {
      this.replied = true;
      this.reject(new RequestTimeoutError(`get timed out after ${this.req.timeoutMs} ms (${this.counts.ok} of ${this.spec.need} replicas answered)`));
    }
    this.finish();
  }

  private replyWith(obj: RkvObject | undefined): void {
    this.replied = true;
    this.resolve(getResult(obj, this.req.lww, this.now(), this.metrics));
  }

  private replyUnavailable(): void {
    this.replied = true;
    const primaryShort = this.counts.okPrimary < this.spec.needPrimary && this.spec.askedPrimary - this.counts.failedPrimary < this.spec.needPrimary;
    const kind = primaryShort ? 'pr' : 'r';
    this.metrics.quorumFailures.inc({ op: 'get', kind });
    const message = primaryShort
      ? `pr=${this.spec.needPrimary} unsatisfied: ${this.spec.askedPrimary - this.counts.failedPrimary} primaries reachable, ${this.counts.okPrimary} answered`
      : `r=${this.spec.need} unsatisfied: ${this.counts.ok} of ${this.spec.asked} replicas answered`;
    this.reject(new UnavailableError(message, { needed: primaryShort ? this.spec.needPrimary : this.spec.need, answered: primaryShort ? this.counts.okPrimary : this.counts.ok, kind }));
  }

  /** finished: read repair of every answering replica that lacks part of the merged object */
  private finish(): void {
    if (this.state === 'finished') return;
    this.state = 'finished';
    this.disarmDeadline();
    const merged = this.acc;
    if (!merged) return;
    if (this.req.onTombstone && merged.siblings.every((s) => s.deleted) && this.slots.every((s) => s.ok && s.target.primary)) this.req.onTombstone();
    for (const s of this.slots) {
      if (!s.ok || upToDate(s.obj, merged, this.req.lww)) continue;
      this.metrics.readRepairs.inc();
      this.router.mergePut(s.target, this.req.bkey, merged, this.req.lww).catch(() => undefined);
    }
  }
}
