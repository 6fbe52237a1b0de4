import type { RkvObject } from '../object/object.js';
import { clocksEqual } from '../object/vclock.js';
import type { BKey } from '../vnode/vnode.js';
import type { Target } from './preflist.js';
import type { VnodeRouter } from './router.js';

/**
 * Tombstone reaping (riak_kv delete_mode): a tombstone is removed only when
 * every one of the n primaries is up and holds that same tombstone. Anything
 * else (a fallback in the preference list, a replica with a newer write or a
 * different history, an error) keeps it, so a deleted key cannot come back
 * from a replica that missed the delete (riak_kv#311, #1777).
 */
export type ReapOutcome = 'reaped' | 'kept';

function isSameTombstone(objs: RkvObject[]): boolean {
  const first = objs[0];
  if (!first) return true;
  return objs.every((o) => o.siblings.every((s) => s.deleted) && clocksEqual(o.clock, first.clock));
}

export async function reapTombstone(router: VnodeRouter, targets: Target[], n: number, b: BKey): Promise<ReapOutcome> {
  if (targets.length < n || targets.some((t) => !t.primary)) return 'kept';
  let replicas: (RkvObject | undefined)[];
  try {
    replicas = await Promise.all(targets.map((t) => router.get(t, b)));
  } catch {
    return 'kept';
  }
  const present = replicas.filter((o): o is RkvObject => o !== undefined);
  if (present.length === 0) return 'reaped';
  if (!isSameTombstone(present)) return 'kept';
  const clock = present[0]!.clock;
  try {
    const done = await Promise.all(targets.map((t) => router.reap(t, b, clock)));
    return done.every(Boolean) ? 'reaped' : 'kept';
  } catch {
    return 'kept';
  }
}
