import { decodeObject } from '../object/codec.js';
import { liveSiblings } from '../object/object.js';
import type { Transport } from '../cluster/transport.js';
import type { VnodeManager } from '../vnode/manager.js';

/**
 * The vnode side of coverage queries: one bounded page of a fold over a hash
 * range of one vnode, filtered to a bucket and to live objects. A query is a
 * sequence of such pages, so a fold never holds a vnode for long, a node runs
 * at most `FOLD_WORKERS` pages at once, and cancelling a query is simply
 * not asking for the next page.
 */
export const FOLD_WORKERS = 4;
export const PAGE_ENTRIES = 1000;
/**
 * Entries read beyond PAGE_ENTRIES so a page can end at a hash boundary; a
 * longer run of equal hashes just ends the page early (the next one resumes
 * after the last entry visited). Reading 4x the page, as before, made every
 * entry be read about four times over a whole fold.
 */
const PAGE_SLACK = 64;

export interface FoldPageRequest {
  partition: number;
  size: number;
  fromHash: number;
  toHash: number;
  bucket: Buffer;
  /** resume after this storage key (list mode) */
  after: Buffer | null;
  mode: 'list' | 'scan';
  withKeys: boolean;
  /** scan: stop once this many keys are collected, at a hash boundary */
  limit: number;
}

/** The fold accumulator: merged associatively across pages and vnodes. */
export interface FoldAcc {
  count: number;
  bytes: number;
  maxBytes: number;
  keys: Buffer[];
}

export interface FoldPage extends FoldAcc {
  last: Buffer | null;
  done: boolean;
  /** scan: hash of the first entry not visited (the next cursor), null when the range is exhausted */
  nextHash: number | null;
}

export function emptyAcc(): FoldAcc {
  return { count: 0, bytes: 0, maxBytes: 0, keys: [] };
}

export function mergeAcc(a: FoldAcc, b: FoldAcc): FoldAcc {
  return { count: a.count + b.count, bytes: a.bytes + b.bytes, maxBytes: Math.max(a.maxBytes, b.maxBytes), keys: a.keys.concat(b.keys) };
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export function createPageFolder(vnodes: VnodeManager, now: () => number): (req: FoldPageRequest) => Promise<FoldPage> {
  const workers = new Semaphore(FOLD_WORKERS);
  return (req) =>
    workers.run(async () => {
      const acc = emptyAcc();
      const batch = await vnodes.vnode(req.partition, req.size).foldBatch(req.after ?? undefined, PAGE_ENTRIES + PAGE_SLACK, 64 * 1024 * 1024, req.fromHash, req.toHash);
      const t = now();
      let last: Buffer | null = null;
      let nextHash: number | null = null;
      let lastHash = -1;
      let visited = 0;
      for (const item of batch.items) {
        // scan pages end at a hash boundary: the cursor is a hash, so a run of equal hashes is never split
        if (req.mode === 'scan' && (acc.keys.length >= req.limit || visited >= PAGE_ENTRIES) && item.bkey.hash32 !== lastHash) {
          nextHash = item.bkey.hash32;
          break;
        }
        if (req.mode === 'list' && visited >= PAGE_ENTRIES && item.bkey.hash32 !== lastHash) break;
        visited++;
        lastHash = item.bkey.hash32;
        last = item.key;
        if (!item.bkey.bucket.equals(req.bucket)) continue;
        const live = liveSiblings(decodeObject(item.value), t);
        if (live.length === 0) continue;
        const size = live.reduce((s, x) => Math.max(s, x.value.length), 0);
        acc.count++;
        acc.bytes += size;
        acc.maxBytes = Math.max(acc.maxBytes, size);
        if (req.withKeys) acc.keys.push(Buffer.from(item.bkey.key));
      }
      const consumedAll = visited === batch.items.length;
      const done = consumedAll && batch.done && nextHash === null;
      return { ...acc, last, done, nextHash };
    });
}

export function registerFoldHandler(transport: Transport, fold: (req: FoldPageRequest) => Promise<FoldPage>): void {
  transport.handle('coverage_fold', async (body) => {
    const b = body as FoldPageRequest;
    return fold({ ...b, bucket: Buffer.from(b.bucket), after: b.after ? Buffer.from(b.after) : null });
  });
}
