import { clocksEqual, copyClock, descends, mergeClocks, sortClock, type VClock } from './vclock.js';

/**
 * The stored object: a causal context (version vector) plus siblings, each
 * tagged with the dot (actor, counter) of the write that created it. This is the
 * dotted-version-vector-set scheme riak_kv adopted (riak_kv#746): a sibling is
 * dropped only when another replica's clock has seen its dot, so there are no
 * false siblings and no sibling explosion from clock pruning.
 */
export type Dot = readonly [actor: string, counter: number];

export interface Content {
  value: Buffer;
  contentType: string;
  /** ms since the epoch, from the coordinator's clock */
  lastModified: number;
  /** a delete: the tombstone keeps the causal history so stale replicas cannot resurrect the key */
  deleted: boolean;
  /** ms since the epoch after which the value reads as absent (RESP EX/PX) */
  expiresAt?: number;
}

export interface Sibling extends Content {
  dot: Dot;
}

export interface RkvObject {
  clock: VClock;
  siblings: readonly Sibling[];
}

export const SIBLING_WARN = 25;
export const SIBLING_LIMIT = 100;

export class SiblingLimitError extends Error {
  constructor(readonly count: number) {
    super(`too many siblings (${count} > ${SIBLING_LIMIT}); resolve them by writing with the merged context`);
    this.name = 'SiblingLimitError';
  }
}

function covered(dot: Dot, clock: VClock): boolean {
  return (clock[dot[0]] ?? 0) >= dot[1];
}

function compareDots(a: Dot, b: Dot): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] - b[1];
}

function sameDot(a: Dot, b: Dot): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

function sortSiblings(s: Sibling[]): Sibling[] {
  return s.length < 2 ? s : s.sort((x, y) => compareDots(x.dot, y.dot));
}

/** What a replica holds for a key it has never stored. */
const NO_OBJECT: RkvObject = Object.freeze({ clock: Object.freeze({}), siblings: Object.freeze([]) });

/**
 * A coordinated write on the vnode `actor`: siblings the client has seen
 * (covered by `context`) are replaced by the new content; concurrent ones stay.
 * The new dot's counter is above `floor` too: the last counter the actor
 * issued for any key, so a key the vnode no longer holds (a reaped tombstone
 * that another replica kept) cannot get a dot that replica has already seen.
 */
export function applyWrite(local: RkvObject | undefined, context: VClock, content: Content, actor: string, floor = 0): RkvObject {
  const base = local ?? NO_OBJECT;
  const counter = Math.max(base.clock[actor] ?? 0, context[actor] ?? 0, floor) + 1;
  // the siblings the context does not cover stay (none, for a write with the stored object's context)
  let kept: Sibling[] | undefined;
  // Later than every sibling this replica holds (by a fraction of a microsecond when the coordinator's
  // clock is behind or the same): a write that supersedes a value is then also the newer one by time, so
  // last-write-wins never prefers the value it replaced (mergeLastWriteWins). A step that small keeps a
  // key written thousands of times a millisecond from running ahead of the clock.
  let at = content.lastModified;
  for (const s of base.siblings) {
    if (!covered(s.dot, context)) (kept ??= []).push(s);
    if (s.lastModified >= at) at = justAfter(s.lastModified);
  }
  // the common write carries the stored object's own clock as context: nothing to merge then
  const clock = context === base.clock ? copyClock(context) : (mergeClocks(base.clock, context) as Record<string, number>);
  const known = actor in clock;
  clock[actor] = counter;
  const added = newSibling(content, [actor, counter], at);
  const siblings = kept === undefined ? [added] : sortSiblings([...kept, added]);
  if (siblings.length > SIBLING_LIMIT) throw new SiblingLimitError(siblings.length);
  // a clock is kept with sorted actors: only a new actor can break the order
  return { clock: known && context === base.clock ? clock : sortClock(clock), siblings };
}

/** `{ ...content, lastModified, dot }`, spelled out: a spread plus properties is several times slower in V8. */
function newSibling(content: Content, dot: Dot, lastModified: number): Sibling {
  if (content.expiresAt === undefined) return { value: content.value, contentType: content.contentType, lastModified, deleted: content.deleted, dot };
  return { value: content.value, contentType: content.contentType, lastModified, deleted: content.deleted, expiresAt: content.expiresAt, dot };
}

/** A timestamp just after `t` (ms since the epoch, a double): a step of a few of its last bits, under a microsecond. */
function justAfter(t: number): number {
  return t + Math.max(2 ** -12, Math.abs(t) * Number.EPSILON);
}

/**
 * Merge of two replicas (riak_object:syntactic_merge with dots). Commutative,
 * associative and idempotent, which is what makes retried handoffs and read
 * repair harmless.
 */
export function mergeObjects(a: RkvObject, b: RkvObject): RkvObject {
  // replicas in sync (the usual read): equal clocks and the same dots merge to either one
  if (a === b || sameVersion(a, b)) return a;
  // a replica write: the incoming object is the stored one's successor, and is the merge as it is
  if (b.siblings.length === 1 && succeeds(b, a)) return b;
  if (a.siblings.length === 1 && succeeds(a, b)) return a;
  const out: Sibling[] = [];
  for (const s of a.siblings) {
    if (!covered(s.dot, b.clock) || b.siblings.some((t) => sameDot(t.dot, s.dot))) out.push(s);
  }
  for (const s of b.siblings) {
    if (!covered(s.dot, a.clock) && !out.some((t) => sameDot(t.dot, s.dot))) out.push(s);
  }
  return { clock: mergeClocks(a.clock, b.clock), siblings: sortSiblings(out) };
}

/**
 * Whether merging `a` into the one-sibling object `b` gives `b`: b's clock has
 * seen all of a's (so it covers every sibling of a, and only b's can survive),
 * and b's sibling is one a has not superseded.
 */
function succeeds(b: RkvObject, a: RkvObject): boolean {
  const t = b.siblings[0]!;
  if (covered(t.dot, a.clock) && !a.siblings.some((s) => sameDot(s.dot, t.dot))) return false;
  return descends(b.clock, a.clock);
}

/**
 * Merge of two replicas of a last-write-wins key: the newest sibling of
 * either (lastModified, then dot), under both clocks. Resolving the causal
 * merge instead would not do: each replica may have dropped the other's value,
 * one as superseded and the other as older, and the causal merge of the two
 * is then no value at all (a register reading as absent). This is a join, so
 * replicas converge whatever the order of merges; applyWrite keeps it from
 * preferring a value over the write that replaced it.
 */
export function mergeLastWriteWins(a: RkvObject, b: RkvObject): RkvObject {
  if (a === b) return a;
  const sa = newest(a.siblings);
  const sb = newest(b.siblings);
  const winner = sa === undefined ? sb : sb === undefined || compareWrites(sa, sb) >= 0 ? sa : sb;
  // one side already is the merge: the common replica write, building on what was stored
  if (winner === sb && b.siblings.length === 1 && descends(b.clock, a.clock)) return b;
  if (winner === sa && a.siblings.length === 1 && descends(a.clock, b.clock)) return a;
  return { clock: mergeClocks(a.clock, b.clock), siblings: winner === undefined ? [] : [winner] };
}

/** The merge of two replicas as the bucket resolves siblings. */
export function mergeReplicas(a: RkvObject, b: RkvObject, lww: boolean): RkvObject {
  return lww ? mergeLastWriteWins(a, b) : mergeObjects(a, b);
}

/** Whether the last-write-wins merge of `a` and `b` is `a` (nothing to repair on a replica holding a). */
export function lastWriteWinsHolds(a: RkvObject, b: RkvObject): boolean {
  if (a === b) return true;
  if (a.siblings.length !== 1 || !descends(a.clock, b.clock)) return false;
  const sb = newest(b.siblings);
  return sb === undefined || compareWrites(a.siblings[0]!, sb) >= 0;
}

function compareWrites(x: Sibling, y: Sibling): number {
  return x.lastModified !== y.lastModified ? x.lastModified - y.lastModified : compareDots(x.dot, y.dot);
}

function newest(siblings: readonly Sibling[]): Sibling | undefined {
  let best = siblings[0];
  for (let i = 1; i < siblings.length; i++) if (compareWrites(siblings[i]!, best!) > 0) best = siblings[i];
  return best;
}

function sameVersion(a: RkvObject, b: RkvObject): boolean {
  const n = a.siblings.length;
  if (n !== b.siblings.length || !clocksEqual(a.clock, b.clock)) return false;
  for (let i = 0; i < n; i++) if (!sameDot(a.siblings[i]!.dot, b.siblings[i]!.dot)) return false;
  return true;
}

/** Last-write-wins among concurrent siblings: latest lastModified, ties broken by dot. */
export function resolveLastWriteWins(obj: RkvObject): RkvObject {
  if (obj.siblings.length <= 1) return obj;
  return { clock: obj.clock, siblings: [newest(obj.siblings)!] };
}

export function isLive(s: Content, now: number): boolean {
  return !s.deleted && (s.expiresAt === undefined || s.expiresAt > now);
}

/** The siblings a reader sees: neither tombstones nor expired (the object's own list when that is all of them). */
export function liveSiblings(obj: RkvObject, now: number): readonly Sibling[] {
  const all = obj.siblings;
  for (let i = 0; i < all.length; i++) if (!isLive(all[i]!, now)) return all.filter((s) => isLive(s, now));
  return all;
}

/** Every sibling is a tombstone (or expired): the object reads as not found. */
export function isTombstone(obj: RkvObject, now: number): boolean {
  return obj.siblings.every((s) => !isLive(s, now));
}

/** True when b adds nothing to a (no read repair needed for the replica holding a). */
export function dominates(a: RkvObject, b: RkvObject): boolean {
  return descends(a.clock, b.clock) && b.siblings.every((s) => a.siblings.some((t) => sameDot(t.dot, s.dot)) || covered(s.dot, a.clock));
}
