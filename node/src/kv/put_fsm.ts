import type { Content, RkvObject } from '../object/object.js';
import type { VClock } from '../object/vclock.js';
import type { BKey } from '../vnode/vnode.js';
import type { Metrics } from '../api/metrics.js';
import type { Target } from './preflist.js';
import type { VnodeRouter } from './router.js';
import { countReply, emptyCounts, tally, type QuorumSpec } from './tally.js';
import { RequestTimeoutError, UnavailableError, type PutResult } from './types.js';
import { Deadline } from './deadline.js';

export interface PutRequest {
  bkey: BKey;
  targets: Target[];
  content: Content;
  /** undefined: supersede whatever the coordinating vnode holds (RESP SET) */
  context: VClock | undefined;
  w: number;
  pw: number;
  lww: boolean;
  timeoutMs: number;
  /** performance.now() when the request started, the base of its deadline (now when omitted) */
  startedAt?: number;
}

/**
 * The put coordinator, after riak_kv_put_fsm: prepare -> execute (the
 * coordinating vnode, a local one when there is one, applies the write and advances its DVV entry) ->
 * waiting (the result is merged into the other replicas; the client gets its
 * answer as soon as W, and PW primaries, acknowledged) -> finished.
 * Acknowledgements are sent after the backend write, so dw is met with w.
 */
export class PutFsm extends Deadline {
  state: 'prepare' | 'execute' | 'waiting' | 'finished' = 'prepare';
  private readonly counts = emptyCounts();
  private readonly spec: QuorumSpec;
  private pending = 0;
  private object: RkvObject | undefined;
  private resolve!: (r: PutResult) => void;
  private reject!: (e: Error) => void;

  constructor(
    private readonly req: PutRequest,
    private readonly router: VnodeRouter,
    private readonly metrics: Metrics,
  ) {
    super();
    let primaries = 0;
    for (const t of req.targets) if (t.primary) primaries++;
    this.spec = { need: req.w, needPrimary: req.pw, asked: req.targets.length, askedPrimary: primaries };
  }

  run(): Promise<PutResult> {
    const result = new Promise<PutResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    const coordinator = this.req.targets[0];
    if (!coordinator || tally(this.spec, this.counts) === 'lost') {
      this.failUnavailable();
      return result;
    }
    this.state = 'execute';
    this.armDeadline(this.req.timeoutMs, this.req.startedAt);
    this.coordinate(0);
    return result;
  }

  /**
   * The first target coordinates; when it cannot be reached at all (so it
   * cannot have applied the write) the next one takes over, counting the
   * unreachable one as a failed replica.
   */
  private coordinate(i: number): void {
    const t = this.req.targets[i]!;
    this.router.coordinatePut(t, this.req.bkey, this.req.content, this.req.context, this.req.lww).then(
      (obj) => this.onCoordinated(i, obj),
      (err: Error & { code?: string }) => {
        if (this.state === 'finished') return;
        const neverSent = err.code === 'unreachable' || err.code === 'refused' || err.code === 'backpressure';
        if (neverSent && i + 1 < this.req.targets.length) {
          countReply(this.counts, false, t.primary);
          if (tally(this.spec, this.counts) === 'lost') return this.failUnavailable();
          return this.coordinate(i + 1);
        }
        this.fail(err);
      },
    );
  }

  private onCoordinated(i: number, obj: RkvObject): void {
    if (this.state === 'finished') return;
    this.object = obj;
    this.state = 'waiting';
    countReply(this.counts, true, this.req.targets[i]!.primary);
    const targets = this.req.targets;
    this.pending = targets.length - i - 1;
    for (let j = i + 1; j < targets.length; j++) {
      const t = targets[j]!;
      this.router.mergePut(t, this.req.bkey, obj, this.req.lww).then(
        () => this.onReply(t, true),
        () => this.onReply(t, false),
      );
    }
    this.check();
  }

  private onReply(t: Target, ok: boolean): void {
    this.pending--;
    if (this.state === 'finished') return;
    countReply(this.counts, ok, t.primary);
    this.check();
  }

  private check(): void {
    const outcome = tally(this.spec, this.counts);
    if (outcome === 'won') {
      this.finish();
      this.resolve({ object: this.object!, context: this.object!.clock });
    } else if (outcome === 'lost') {
      this.failUnavailable();
    }
  }

  protected onDeadline(): void {
    if (this.state === 'finished') return;
    this.fail(new RequestTimeoutError(`put timed out after ${this.req.timeoutMs} ms (${this.counts.ok} of ${this.spec.need} acknowledgements)`));
  }

  private failUnavailable(): void {
    const primaryShort = this.spec.askedPrimary - this.counts.failedPrimary < this.spec.needPrimary;
    const kind = primaryShort ? 'pw' : 'w';
    this.metrics.quorumFailures.inc({ op: 'put', kind });
    const message = primaryShort
      ? `pw=${this.spec.needPrimary} unsatisfied: ${this.spec.askedPrimary - this.counts.failedPrimary} primaries reachable, ${this.counts.okPrimary} acknowledged`
      : `w=${this.spec.need} unsatisfied: ${this.counts.ok} of ${this.spec.asked} replicas acknowledged`;
    this.fail(new UnavailableError(message, { needed: primaryShort ? this.spec.needPrimary : this.spec.need, answered: primaryShort ? this.counts.okPrimary : this.counts.ok, kind }));
  }

  private fail(err: Error): void {
    if (this.state === 'finished') return;
    this.finish();
    this.reject(err);
  }

  private finish(): void {
    this.state = 'finished';
    this.disarmDeadline();
  }
}
