import type { Logger } from 'pino';
import type { Metrics } from '../api/metrics.js';
import type { RingManager } from '../cluster/ring_manager.js';
import type { Transport } from '../cluster/transport.js';
import type { Ring } from '../ring/ring.js';
import type { VnodeManager } from './manager.js';
import type { VnodeService } from './vnode_service.js';
import { registerRepairSource, repairPartition } from './repair.js';
import { copyToRing, sendPartition, type HandoffJob, type HandoffProgress } from './handoff_sender.js';

/**
 * Decides which partitions this node must hand off and runs those handoffs
 * (riak_core_handoff_manager + vnode_manager's ownership checks):
 *  - ownership: a committed transfer whose sender is this node;
 *  - hinted: data in a partition this node does not own (a fallback's writes,
 *    a joiner's old data, a stale coordinator's write) goes to the owner.
 * At most `limit` run at once; a failure frees its slot at once and is retried
 * with backoff; every request carries an inactivity timeout, so none stalls.
 */
export interface TransferRow extends HandoffJob {
  status: 'active' | 'waiting' | 'retrying';
  objects: number;
  bytes: number;
  elapsedS: number;
  rateBytesPerS: number;
  attempts: number;
  lastError?: string;
}

interface Active {
  job: HandoffJob;
  progress: HandoffProgress;
  startedAt: number;
  cancelled: boolean;
  /** the data is across and the job is completing (claimant, drop): it no longer holds a transfer slot */
  finishing: boolean;
}

interface Failure {
  attempts: number;
  retryAt: number;
  error: string;
}

const key = (j: HandoffJob) => `${j.type}:${j.size ?? ''}:${j.partition}:${j.to}`;

const RING_SIZES = [8, 16, 32, 64, 128, 256, 512, 1024];

export interface HandoffManagerOptions {
  ring: RingManager;
  transport: Transport;
  vnodes: VnodeManager;
  service: VnodeService;
  metrics: Metrics;
  logger: Logger;
  limit: number;
  now?: () => number;
  tickMs?: number;
  inactivityTimeoutMs?: number;
  lww: (bucket: Buffer) => boolean;
  /** default n_val: the arcs a repaired partition replicates */
  nval: number;
}

export class HandoffManager {
  limit: number;
  private readonly active = new Map<string, Active>();
  private readonly failures = new Map<string, Failure>();
  private wanted: HandoffJob[] = [];
  private readonly repairs = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  /** a tick was asked for while one ran: run another when it ends, so a freed slot is refilled at once */
  private again = false;
  /** jobs ended so far (either way) */
  private ended = 0;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: HandoffManagerOptions) {
    this.limit = o.limit;
    this.now = o.now ?? Date.now;
    o.transport.handle('handoff_status', async () => this.localRows());
    o.transport.handle('repair_start', async (body) => this.requestRepair((body as { partition: number }).partition));
    registerRepairSource(o.transport, o.vnodes);
  }

  /** Queues a repair of one of our partitions (rkv admin repair). */
  requestRepair(partition: number): { queued: boolean; partition: number; node: string } {
    const r = this.o.ring.current;
    if (!Number.isInteger(partition) || partition < 0 || partition >= r.ringSize) throw Object.assign(new Error(`partition must be between 0 and ${r.ringSize - 1}`), { statusCode: 400, code: 'bad_partition' });
    if (r.owners[partition] !== this.o.ring.self) throw Object.assign(new Error(`partition ${partition} is owned by ${r.owners[partition]}`), { statusCode: 409, code: 'not_owner' });
    this.repairs.add(partition);
    void this.tick();
    return { queued: true, partition, node: this.o.ring.self };
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.o.tickMs ?? 1000);
    this.timer.unref();
    this.o.ring.onChange(() => void this.tick());
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const a of this.active.values()) a.cancelled = true;
    const deadline = this.now() + 5000;
    while (this.active.size > 0 && this.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** The handoffs the ring alone asks for (ownership transfers, repairs, a committed resize): no I/O. */
  private ringJobs(ring: Ring): HandoffJob[] {
    const self = this.o.ring.self;
    const jobs: HandoffJob[] = [];
    for (const t of ring.next) if (t.from === self) jobs.push({ type: 'ownership', partition: t.partition, from: self, to: t.to });
    for (const p of this.repairs) jobs.push({ type: 'repair', partition: p, from: 'neighbours', to: self });
    // a committed resize: copy each old partition we own into the new ring
    if (ring.resize) {
      for (const p of ring.resize.pending) {
        if (ring.owners[p] === self) jobs.push({ type: 'resize', partition: p, from: self, to: '*', size: ring.ringSize });
      }
    }
    return jobs;
  }

  /** The handoffs our data asks for: hinted ones and stray ring sizes (each found by looking at the backend). */
  private async dataJobs(ring: Ring): Promise<HandoffJob[]> {
    const self = this.o.ring.self;
    const jobs: HandoffJob[] = [];
    const involved = new Set<number>();
    for (const t of ring.next) if (t.from === self || t.to === self) involved.add(t.partition);
    for (let p = 0; p < ring.ringSize; p++) {
      const owner = ring.owners[p]!;
      if (owner === self || involved.has(p) || !ring.members[owner]) continue;
      // a hinted job names its ring size: if the ring switches size while it runs, it still folds and drops that vnode
      const hinted: HandoffJob = { type: 'hinted', partition: p, from: self, to: owner, size: ring.ringSize };
      if (this.active.has(key(hinted))) {
        jobs.push(hinted);
        continue;
      }
      if (!(await this.o.vnodes.vnode(p).isEmpty())) jobs.push(hinted);
    }
    // data of a ring size that is neither current nor being built (an old ring after a resize,
    // an aborted resize, a joiner's own ring): re-homed key by key, then dropped
    for (const size of RING_SIZES) {
      if (size === ring.ringSize || size === ring.resize?.size || !(await this.o.vnodes.holdsRingSize(size))) continue;
      for (let p = 0; p < size; p++) {
        if (!(await this.o.vnodes.vnode(p, size).isEmpty())) jobs.push({ type: 'resize', partition: p, from: self, to: '*', size });
      }
    }
    return jobs;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    this.again = false;
    try {
      const ring = this.o.ring.current;
      // The ring's own jobs start before the backend is looked at: those looks wait behind
      // writes and compactions, and must not leave a transfer slot idle meanwhile.
      const fromRing = this.ringJobs(ring);
      this.dispatch(fromRing);
      const ended = this.ended;
      const fromData = await this.dataJobs(ring);
      const wanted = [...fromRing, ...fromData];
      // dataJobs awaits: a job may have finished and changed the ring meanwhile, and must not run again
      this.wanted = this.o.ring.current === ring ? wanted : wanted.filter((j) => !this.obsolete(j));
      // A job that ended meanwhile may have emptied a vnode dataJobs saw holding data (or took
      // for busy because the job was running): those are looked at again, not started from this view.
      if (ended === this.ended) this.dispatch(this.wanted);
      else this.again = true;
    } catch (e) {
      // a tick that overlapped stop() sees the backend close under it: that is the shutdown, not a failure
      if (!this.stopped) this.o.logger.error({ err: (e as Error).message }, 'handoff tick failed');
    } finally {
      this.ticking = false;
      if (this.again && !this.stopped) void this.tick();
    }
  }

  /** Starts wanted jobs while transfer slots are free. */
  private dispatch(wanted: HandoffJob[]): void {
    const now = this.now();
    let running = 0;
    for (const a of this.active.values()) if (!a.finishing) running++;
    for (const job of wanted) {
      if (running >= this.limit || this.stopped) break;
      const k = key(job);
      if (this.active.has(k)) continue;
      const f = this.failures.get(k);
      if (f && f.retryAt > now) continue;
      // gossip keeps a connection to every member, so this tells up from down without trying
      if (job.to !== '*' && job.type !== 'repair' && !this.o.transport.isReachable(job.to)) continue;
      this.run(job);
      running++;
    }
  }

  /** An ownership or hinted job the current ring no longer asks for (its transfer completed, the owner changed, we left). */
  private obsolete(job: HandoffJob): boolean {
    const r = this.o.ring.current;
    if (job.type === 'ownership') return !r.next.some((t) => t.partition === job.partition && t.from === job.from && t.to === job.to);
    if (job.type === 'hinted' && (job.size === undefined || job.size === r.ringSize)) return r.owners[job.partition] !== job.to || !r.members[job.to];
    return false;
  }

  private run(job: HandoffJob): void {
    const k = key(job);
    const a: Active = { job, progress: { objects: 0, bytes: 0 }, startedAt: this.now(), cancelled: false, finishing: false };
    this.active.set(k, a);
    const log = this.o.logger.child({ partition: job.partition, type: job.type, to: job.to, ...(job.size ? { size: job.size } : {}) });
    log.info('handoff starting');
    const cancelled = () => a.cancelled || this.stopped;
    let work: Promise<void>;
    if (job.type === 'repair') {
      work = repairPartition(job.partition, {
        ring: this.o.ring,
        transport: this.o.transport,
        vnodes: this.o.vnodes,
        nval: this.o.nval,
        lww: this.o.lww,
        progress: a.progress,
        cancelled,
        timeoutMs: this.o.inactivityTimeoutMs ?? 30_000,
      });
    } else if (job.type === 'resize') {
      work = copyToRing({
        vnode: this.o.vnodes.vnode(job.partition, job.size),
        progress: a.progress,
        cancelled,
        send: (items) => {
          const target = this.o.service.rehomeTarget(job.size!);
          if (!target) throw new Error('the resize this copy belonged to was aborted');
          return this.o.service.sendToRing(target, items, this.o.lww);
        },
      });
    } else {
      this.o.service.setForwarding(job.partition, job.to);
      // inside the promise: a peer that is no longer a member fails the job (retried) instead of leaving it active forever
      work = Promise.resolve().then(() => sendPartition(job, {
        transport: this.o.transport,
        peer: this.o.ring.peer(job.to),
        vnode: this.o.vnodes.vnode(job.partition, job.size),
        ringVersion: this.o.ring.current.version,
        inactivityTimeoutMs: this.o.inactivityTimeoutMs ?? 30_000,
        progress: a.progress,
        cancelled,
      }));
    }
    work
      .then(() => {
        // Completing (claimant round trip, waiting for the ring, dropping the copy) moves no data:
        // the slot goes to the next transfer now, while the job stays active so it is not started twice.
        a.finishing = true;
        void this.tick();
        return this.finishJob(job);
      })
      .then(
        () => {
          this.failures.delete(k);
          this.o.metrics.handoffs.inc({ type: job.type, outcome: 'ok' });
          this.o.metrics.handoffBytes.inc({ type: job.type }, a.progress.bytes);
          this.o.metrics.handoffDuration.observe({ type: job.type }, (this.now() - a.startedAt) / 1000);
          log.info({ objects: a.progress.objects, bytes: a.progress.bytes, ms: this.now() - a.startedAt }, 'handoff finished');
        },
        (e: Error) => {
          const prev = this.failures.get(k);
          const attempts = (prev?.attempts ?? 0) + 1;
          const delay = Math.min(30_000, 500 * 2 ** Math.min(attempts - 1, 6));
          this.failures.set(k, { attempts, retryAt: this.now() + delay, error: e.message });
          this.o.metrics.handoffs.inc({ type: job.type, outcome: 'error' });
          log.warn({ err: e.message, attempts, retryInMs: delay }, 'handoff failed; will retry');
        },
      )
      .finally(() => {
        if (job.type !== 'resize') this.o.service.setForwarding(job.partition, undefined);
        this.active.delete(k);
        this.ended++;
        void this.tick();
      });
  }

  /**
   * After the data is across: an ownership transfer is completed at the
   * claimant and the local copy dropped once our ring shows the new owner;
   * a hinted one is dropped at once (writes kept flowing to the owner meanwhile).
   */
  private async finishJob(job: HandoffJob): Promise<void> {
    if (job.type === 'repair') {
      this.repairs.delete(job.partition);
      return;
    }
    if (job.type === 'resize') {
      const r = this.o.ring.current;
      if (job.size === r.ringSize && r.resize) {
        // the old vnode stays authoritative until the whole ring switches
        await this.o.ring.claimantOp({ op: 'resize_complete', partition: job.partition });
        return;
      }
      if (job.size !== r.ringSize && job.size !== r.resize?.size) await this.o.vnodes.vnode(job.partition, job.size).drop();
      return;
    }
    if (job.type === 'ownership') {
      const clusterId = this.o.ring.current.clusterId;
      await this.o.ring.claimantOp({ op: 'complete', transfer: { partition: job.partition, from: job.from, to: job.to } });
      const deadline = this.now() + 30_000;
      // A leaving node's last completion makes it exiting, and it adopts a fresh
      // standalone ring (new cluster id) where it owns everything again: the
      // transfer is done all the same, so its copy must still be dropped.
      while (this.o.ring.current.owners[job.partition] !== job.to && this.o.ring.current.clusterId === clusterId) {
        if (this.now() > deadline) throw new Error('ring did not show the completed transfer in time');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await this.o.vnodes.vnode(job.partition, job.size).drop();
  }

  localRows(): TransferRow[] {
    const now = this.now();
    const rows: TransferRow[] = [];
    for (const a of this.active.values()) {
      const elapsedS = (now - a.startedAt) / 1000;
      const f = this.failures.get(key(a.job));
      rows.push({
        ...a.job,
        status: 'active',
        objects: a.progress.objects,
        bytes: a.progress.bytes,
        elapsedS: Math.round(elapsedS * 10) / 10,
        rateBytesPerS: elapsedS > 0 ? Math.round(a.progress.bytes / elapsedS) : 0,
        attempts: (f?.attempts ?? 0) + 1,
        ...(f ? { lastError: f.error } : {}),
      });
    }
    for (const job of this.wanted) {
      if (this.active.has(key(job))) continue;
      const f = this.failures.get(key(job));
      rows.push({ ...job, status: f ? 'retrying' : 'waiting', objects: 0, bytes: 0, elapsedS: 0, rateBytesPerS: 0, attempts: f?.attempts ?? 0, ...(f ? { lastError: f.error } : {}) });
    }
    return rows;
  }
}
