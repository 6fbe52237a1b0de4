import { dominates, isTombstone, liveSiblings, mergeObjects, resolveLastWriteWins, type RkvObject } from '../object/object.js';
import type { BKey } from '../vnode/vnode.js';
import type { Metrics } from '../api/metrics.js';
import type { Target } from './preflist.js';
import type { VnodeRouter } from './router.js';
import { countReply, emptyCounts, tally, type QuorumSpec } from './tally.js';
import { RequestTimeoutError, UnavailableError, type GetResult } from './types.js';

export interface GetRequest {
  bkey: BKey;
  targets: Target[];
  r: number;
  pr: number;
  /** resolve siblings last-write-wins in the reply (allow_mult=false) */
  lww: boolean;
  timeoutMs: number;
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
export class GetFsm {
  state: 'prepare' | 'execute' | 'waiting' | 'finished' = 'prepare';
  private readonly slots: ReplySlot[];
  private readonly counts = emptyCounts();
  private readonly spec: QuorumSpec;
  private replied = false;
  private timer: NodeJS.Timeout | undefined;
  private resolve!: (r: GetResult) => void;
  private reject!: (e: Error) => void;

  constructor(
    private readonly req: GetRequest,
    private readonly router: VnodeRouter,
    private readonly metrics: Metrics,
    private readonly now: () => number,
  ) {
    this.slots = req.targets.map((target) => ({ target, done: false, ok: false }));
    this.spec = {
      need: req.r,
      needPrimary: req.pr,
      asked: req.targets.length,
      askedPrimary: req.targets.filter((t) => t.primary).length,
    };
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
    this.slots.forEach((slot) => {
      this.router.get(slot.target, this.req.bkey).then(
        (obj) => this.onReply(slot, true, obj),
        () => this.onReply(slot, false, undefined),
      );
    });
    this.state = 'waiting';
    this.timer = setTimeout(() => this.onTimeout(), this.req.timeoutMs);
    return result;
  }

  private onReply(slot: ReplySlot, ok: boolean, obj: RkvObject | undefined): void {
    if (this.state === 'finished') return;
    slot.done = true;
    slot.ok = ok;
    if (obj) slot.obj = obj;
    countReply(this.counts, ok, slot.target.primary);
    if (!this.replied) {
      const outcome = tally(this.spec, this.counts);
      if (outcome === 'won') this.replyWith(this.merged());
      else if (outcome === 'lost') this.replyUnavailable();
    }
    if (this.slots.every((s) => s.done)) this.finish();
  }

  private onTimeout(): void {
    if (!this.replied) {
      this.replied = true;
      this.reject(new RequestTimeoutError(`get timed out after ${this.req.timeoutMs} ms (${this.counts.ok} of ${this.spec.need} replicas answered)`));
    }
    this.finish();
  }

  private merged(): RkvObject | undefined {
    let acc: RkvObject | undefined;
    for (const s of this.slots) if (s.obj) acc = acc ? mergeObjects(acc, s.obj) : s.obj;
    return acc;
  }

  private replyWith(obj: RkvObject | undefined): void {
    this.replied = true;
    const now = this.now();
    if (!obj) return this.resolve({ found: false });
    if (isTombstone(obj, now)) return this.resolve({ found: false, context: obj.clock });
    const shown = this.req.lww ? resolveLastWriteWins({ clock: obj.clock, siblings: liveSiblings(obj, now) }) : obj;
    const siblings = liveSiblings(shown, now);
    this.metrics.siblings.observe(siblings.length);
    this.resolve({ found: true, object: obj, siblings, context: obj.clock });
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
    if (this.timer) clearTimeout(this.timer);
    const merged = this.merged();
    if (!merged) return;
    for (const s of this.slots) {
      if (!s.ok) continue;
      if (s.obj && dominates(s.obj, merged)) continue;
      this.metrics.readRepairs.inc();
      this.router.mergePut(s.target, this.req.bkey, merged, this.req.lww).catch(() => undefined);
    }
  }
}
