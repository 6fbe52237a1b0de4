import type { RkvObject } from '../object/object.js';
import { clocksEqual } from '../object/vclock.js';
import type { BKey } from '../vnode/vnode.js';
import type { Target } from './preflist.js';
import type { VnodeRouter } from './router.js';

/**
 * Tombstone reaping (riak_kv delete_mode): a tombstone is removed only when
 * every one of the n primaries is up and holds that same tombstone, and no
 * other node holds a different copy of the key in those partitions (a
 * fallback's copy waiting for hinted handoff would otherwise bring the value
 * back once the tombstone is gone). Anything else (a fallback in the
 * preference list, a replica or fallback copy with a newer write or a
 * different history, an error) keeps it, so a deleted key cannot come back
 * from a replica that missed the delete (riak_kv#311, #1777). Fallback copies
 * that are the same tombstone are reaped with the primaries.
 */
export type ReapOutcome = 'reaped' | 'kept' | 'absent';

function isSameTombstone(objs: RkvObject[]): boolean {
  const first = objs[0];
  if (!first) return true;
  return objs.every((o) => o.siblings.every((s) => s.deleted) && clocksEqual(o.clock, first.clock));
}

/**
 * `elsewhere`: the same partitions on every other cluster member (where a
 * fallback may have written), or undefined when some member cannot be asked.
 */
export async function reapTombstone(router: VnodeRouter, targets: Target[], n: number, b: BKey, elsewhere: Target[] | undefined): Promise<ReapOutcome> {
  if (targets.length < n || targets.some((t) => !t.primary) || elsewhere === undefined) return 'kept';
  let replicas: (RkvObject | undefined)[];
  let copies: (RkvObject | undefined)[];
  try {
    [replicas, copies] = await Promise.all([Promise.all(targets.map((t) => router.get(t, b))), Promise.all(elsewhere.map((t) => router.get(t, b)))]);
  } catch {
    return 'kept';
  }
  const held = elsewhere.filter((_, i) => copies[i] !== undefined);
  const present = [...replicas, ...copies].filter((o): o is RkvObject => o !== undefined);
  // already reaped (by the delete's own reap or another node's, after a read of the tombstone)
  if (present.length === 0) return 'absent';
  if (!isSameTombstone(present)) return 'kept';
  const clock = present[0]!.clock;
  try {
    const done = await Promise.all([...targets, ...held].map((t) => router.reap(t, b, clock)));
    return done.every(Boolean) ? 'reaped' : 'kept';
  } catch {
    return 'kept';
  }
}
