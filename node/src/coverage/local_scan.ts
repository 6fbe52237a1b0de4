import { partitionEnd, partitionOfHash, partitionStart } from '../ring/chash.js';
import { isTombstone } from '../object/object.js';
import type { VnodeManager } from '../vnode/manager.js';

/**
 * Key listing over the vnodes of this node: each partition's keys are read
 * from the partition's own vnode (its first replica), so every key is seen
 * exactly once. Valid while this node holds every partition; the coverage
 * subsystem generalises it to a cluster.
 */
export interface ScanPage {
  cursor: number;
  keys: Buffer[];
}

/** Bound on entries examined by one SCAN call, so a sparse bucket cannot make one call read everything. */
const VISIT_FACTOR = 10;

export async function scanLocal(
  vnodes: VnodeManager,
  bucket: Buffer,
  cursor: number,
  count: number,
  now: number,
  match?: (key: Buffer) => boolean,
): Promise<ScanPage> {
  const ringSize = vnodes.ringSize;
  const keys: Buffer[] = [];
  let visited = 0;
  const visitLimit = Math.max(count, 1) * VISIT_FACTOR;
  let position = cursor;
  while (position < 2 ** 32) {
    const p = partitionOfHash(position, ringSize);
    const end = partitionEnd(p, ringSize);
    let stoppedAt: number | undefined;
    let lastHash = -1;
    await vnodes.vnode(p).foldObjects(
      (bk, obj) => {
        // never split a run of equal hashes across pages: the cursor is a hash
        if ((keys.length >= count || visited >= visitLimit) && bk.hash32 !== lastHash) {
          stoppedAt = bk.hash32;
          return false;
        }
        visited++;
        lastHash = bk.hash32;
        if (bk.bucket.equals(bucket) && !isTombstone(obj, now) && (!match || match(bk.key))) keys.push(Buffer.from(bk.key));
        return true;
      },
      Math.max(position, partitionStart(p, ringSize)),
      end,
    );
    if (stoppedAt !== undefined) return { cursor: stoppedAt, keys };
    position = end;
    if (keys.length >= count || visited >= visitLimit) break;
  }
  return { cursor: position >= 2 ** 32 ? 0 : position, keys };
}

export async function countLocal(vnodes: VnodeManager, bucket: Buffer, now: number): Promise<number> {
  let n = 0;
  for (let p = 0; p < vnodes.ringSize; p++) {
    await vnodes.vnode(p).foldObjects(
      (bk, obj) => {
        if (bk.bucket.equals(bucket) && !isTombstone(obj, now)) n++;
      },
      partitionStart(p, vnodes.ringSize),
      partitionEnd(p, vnodes.ringSize),
    );
  }
  return n;
}
