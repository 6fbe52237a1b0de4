import type { Transport } from '../cluster/transport.js';
import type { Ring } from '../ring/ring.js';
import { partitionEnd, partitionOfHash, partitionStart, replicaPartitions } from '../ring/chash.js';
import { RequestTimeoutError, UnavailableError } from '../kv/types.js';
import { coveragePlan, samplePlan, type CoverageVnode } from './plan.js';
import { emptyAcc, mergeAcc, type FoldAcc, type FoldPage, type FoldPageRequest } from './fold.js';

/**
 * The coverage coordinator (riak_core_coverage_fsm): init (plan) -> process
 * results (pages from each planned vnode, merged associatively) -> finish.
 * `allup` answers from what is reachable and says the result is partial;
 * `all` refuses when some part of the key space has no reachable replica.
 */
export type VnodeSelector = 'all' | 'allup';

export interface CoverageOptions {
  selector?: VnodeSelector;
  /** fraction of the vnodes to fold; the result is scaled up (riak's sample_only) */
  sample?: number;
  /** fixes the plan's starting point (riak's coverage offset) */
  offset?: number;
  timeoutMs?: number;
  withKeys?: boolean;
  /** called with each page's keys as they arrive (streaming listings) */
  onKeys?: (keys: Buffer[]) => void;
}

export interface CoverageResult extends FoldAcc {
  partial: boolean;
  vnodes: number;
  /** set when sampled: the scaled estimate of count */
  estimate?: number;
}

export interface CoverageDeps {
  ring: () => Ring;
  up: () => ReadonlySet<string>;
  self: string;
  transport: Transport;
  localFold: (req: FoldPageRequest) => Promise<FoldPage>;
  nval: (bucket: Buffer) => number;
  timeoutMs: number;
}

const PARALLEL_VNODES = 4;

export class CoverageCoordinator {
  private offsetCounter = 0;

  constructor(private readonly d: CoverageDeps) {}

  private page(node: string, req: FoldPageRequest, timeoutMs: number): Promise<FoldPage> {
    if (node === this.d.self) return this.d.localFold(req);
    return this.d.transport.request(this.d.ring().members[node] ? { name: node, address: this.d.ring().members[node]!.clusterAddress } : { name: node, address: '' }, 'coverage_fold', req, { timeoutMs }) as Promise<FoldPage>;
  }

  async fold(bucket: Buffer, opts: CoverageOptions = {}): Promise<CoverageResult> {
    const ring = this.d.ring();
    const deadline = Date.now() + (opts.timeoutMs ?? this.d.timeoutMs * 6);
    const plan = coveragePlan({ ringSize: ring.ringSize, owners: ring.owners, up: this.d.up(), nval: this.d.nval(bucket), offset: opts.offset ?? this.offsetCounter++ });
    const selector = opts.selector ?? 'allup';
    if (selector === 'all' && plan.uncovered.length > 0) {
      throw new UnavailableError(`coverage query needs every partition, but ${plan.uncovered.length} of ${ring.ringSize} have no reachable replica`, { needed: ring.ringSize, answered: ring.ringSize - plan.uncovered.length, kind: 'r' });
    }
    let vnodes = plan.vnodes;
    let coveredFraction = 1;
    if (opts.sample !== undefined && opts.sample < 1) ({ vnodes, coveredFraction } = samplePlan(plan, ring.ringSize, opts.sample));
    let acc = emptyAcc();
    let partial = plan.uncovered.length > 0;
    const queue = [...vnodes];
    const worker = async () => {
      for (let v = queue.shift(); v; v = queue.shift()) {
        try {
          // read acc only after the await: the workers run concurrently
          const part = await this.foldVnode(v, ring.ringSize, bucket, opts, deadline);
          acc = mergeAcc(acc, part);
        } catch (e) {
          if (e instanceof RequestTimeoutError || selector === 'all') throw e;
          partial = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_VNODES, vnodes.length) }, worker));
    const out: CoverageResult = { ...acc, partial, vnodes: vnodes.length };
    if (coveredFraction < 1) out.estimate = Math.round(acc.count / coveredFraction);
    return out;
  }

  private async foldVnode(v: CoverageVnode, size: number, bucket: Buffer, opts: CoverageOptions, deadline: number): Promise<FoldAcc> {
    let acc = emptyAcc();
    for (const arc of v.arcs) {
      let after: Buffer | null = null;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) throw new RequestTimeoutError('coverage query timed out');
        const page = await this.page(v.node, { partition: v.partition, size, fromHash: partitionStart(arc, size), toHash: partitionEnd(arc, size), bucket, after, mode: 'list', withKeys: opts.withKeys === true, limit: 0 }, left);
        if (opts.onKeys && page.keys.length) opts.onKeys(page.keys.map((k) => Buffer.from(k)));
        acc = mergeAcc(acc, { count: page.count, bytes: page.bytes, maxBytes: page.maxBytes, keys: opts.onKeys ? [] : page.keys.map((k) => Buffer.from(k)) });
        if (page.done || !page.last) break;
        after = Buffer.from(page.last);
      }
    }
    return acc;
  }

  /**
   * One SCAN page: keys of the bucket with hash >= cursor, read arc by arc
   * from one reachable replica each (a local one when we have it). The next
   * cursor is the hash where the page stopped, 0 when the ring is done.
   */
  async scan(bucket: Buffer, cursor: number, count: number): Promise<{ cursor: number; keys: Buffer[] }> {
    const ring = this.d.ring();
    const size = ring.ringSize;
    const up = this.d.up();
    const n = Math.min(this.d.nval(bucket), size);
    const keys: Buffer[] = [];
    let position = cursor;
    let arcsVisited = 0;
    while (position < 2 ** 32) {
      const arc = partitionOfHash(position, size);
      const replicas = replicaPartitions(arc, size, n).filter((p) => up.has(ring.owners[p]!));
      const vnode = replicas.find((p) => ring.owners[p] === this.d.self) ?? replicas[0];
      if (vnode === undefined) throw new UnavailableError(`no replica of partition ${arc} is reachable`, { needed: 1, answered: 0, kind: 'r' });
      let after: Buffer | null = null;
      for (;;) {
        const page = await this.page(ring.owners[vnode]!, { partition: vnode, size, fromHash: Math.max(position, partitionStart(arc, size)), toHash: partitionEnd(arc, size), bucket, after, mode: 'scan', withKeys: true, limit: count - keys.length }, this.d.timeoutMs);
        for (const k of page.keys) keys.push(Buffer.from(k));
        if (page.nextHash !== null) return { cursor: page.nextHash, keys };
        if (page.done || !page.last) break;
        after = Buffer.from(page.last);
      }
      position = partitionEnd(arc, size);
      arcsVisited++;
      // a page is also complete after enough keys or enough empty arcs, at an arc boundary
      if (keys.length >= count || arcsVisited >= 16) break;
    }
    return { cursor: position >= 2 ** 32 ? 0 : position, keys };
  }
}
