import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyWrite, lastWriteWinsHolds, mergeLastWriteWins, mergeObjects, resolveLastWriteWins, liveSiblings, isTombstone, dominates, SIBLING_LIMIT, SiblingLimitError, type Content, type RkvObject } from '../../../node/src/object/object.js';
import { decodeContext, decodeObject, encodeContext, encodeObject, CodecError } from '../../../node/src/object/codec.js';

function content(v: string, lastModified = 1): Content {
  return { value: Buffer.from(v), contentType: 'text/plain', lastModified, deleted: false };
}

/**
 * Replicas evolved by a random history: writes coordinated on random replicas
 * with a context read from a random replica (or none), and syncs between them.
 * Every object that can appear in the system is reachable this way.
 */
const actors = ['a', 'b', 'c'];
type Step = { kind: 'write'; at: number; ctxFrom: number | null; ts: number } | { kind: 'sync'; from: number; to: number };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), at: fc.nat(2), ctxFrom: fc.option(fc.nat(2), { nil: null }), ts: fc.nat(5) }),
  fc.record({ kind: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }),
);

function replay(steps: Step[]): RkvObject[] {
  const reps: (RkvObject | undefined)[] = [undefined, undefined, undefined];
  let n = 0;
  for (const s of steps) {
    if (s.kind === 'write') {
      const ctx = s.ctxFrom === null ? {} : (reps[s.ctxFrom]?.clock ?? {});
      reps[s.at] = applyWrite(reps[s.at], ctx, content(`v${n++}`, s.ts), actors[s.at]!);
    } else {
      const a = reps[s.from];
      const b = reps[s.to];
      if (a) reps[s.to] = b ? mergeObjects(b, a) : a;
    }
  }
  return reps.map((r) => r ?? { clock: {}, siblings: [] });
}

const replicasArb = fc.array(stepArb, { maxLength: 25 }).map(replay);

function norm(o: RkvObject): string {
  return JSON.stringify({ c: o.clock, s: o.siblings.map((s) => [s.dot, s.value.toString()]) });
}

/** The merge spelled out with no shortcut: what the fast paths (replicas in sync, a replica's successor) must agree with. */
function referenceMerge(a: RkvObject, b: RkvObject): RkvObject {
  const covered = (dot: readonly [string, number], clock: Readonly<Record<string, number>>): boolean => (clock[dot[0]] ?? 0) >= dot[1];
  const same = (x: readonly [string, number], y: readonly [string, number]): boolean => x[0] === y[0] && x[1] === y[1];
  const out = a.siblings.filter((s) => !covered(s.dot, b.clock) || b.siblings.some((t) => same(t.dot, s.dot)));
  for (const s of b.siblings) if (!covered(s.dot, a.clock) && !out.some((t) => same(t.dot, s.dot))) out.push(s);
  const clock: Record<string, number> = { ...a.clock };
  for (const [k, n] of Object.entries(b.clock)) clock[k] = Math.max(clock[k] ?? 0, n);
  const sorted = Object.fromEntries(Object.entries(clock).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  out.sort((x, y) => (x.dot[0] !== y.dot[0] ? (x.dot[0] < y.dot[0] ? -1 : 1) : x.dot[1] - y.dot[1]));
  return { clock: sorted, siblings: out };
}

describe('object merge', () => {
  it('agrees with the merge spelled out, for any replicas and for a replica and its successor', () => {
    fc.assert(
      fc.property(replicasArb, fc.nat(2), fc.nat(2), fc.nat(5), fc.boolean(), (reps, i, j, ts, lww) => {
        // a coordinated write on top of replica i, as a put sends it to the other replicas
        const written = applyWrite(reps[i], reps[i]!.clock, content('next', ts), actors[i]!);
        const next = lww ? resolveLastWriteWins(written) : written;
        const pairs: [RkvObject, RkvObject][] = [[reps[i]!, reps[j]!], [reps[j]!, next], [next, reps[j]!], [reps[i]!, next]];
        return pairs.every(([x, y]) => norm(mergeObjects(x, y)) === norm(referenceMerge(x, y)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is commutative', () => {
    fc.assert(fc.property(replicasArb, ([a, b]) => norm(mergeObjects(a!, b!)) === norm(mergeObjects(b!, a!))));
  });

  it('is associative', () => {
    fc.assert(fc.property(replicasArb, ([a, b, c]) => norm(mergeObjects(mergeObjects(a!, b!), c!)) === norm(mergeObjects(a!, mergeObjects(b!, c!)))));
  });

  it('is idempotent', () => {
    fc.assert(fc.property(replicasArb, ([a]) => norm(mergeObjects(a!, a!)) === norm(a!)));
  });

  it('never loses a write that no replica has seen superseded', () => {
    fc.assert(
      fc.property(replicasArb, (reps) => {
        const all = reps.reduce((x, y) => mergeObjects(x, y));
        // every sibling that survives on some replica and is not covered by another replica's newer write survives the merge
        for (const r of reps) for (const s of r.siblings) {
          const superseded = reps.some((o) => (o.clock[s.dot[0]] ?? 0) >= s.dot[1] && !o.siblings.some((t) => t.dot[0] === s.dot[0] && t.dot[1] === s.dot[1]));
          const kept = all.siblings.some((t) => t.dot[0] === s.dot[0] && t.dot[1] === s.dot[1]);
          if (!superseded && !kept) return false;
        }
        return true;
      }),
    );
  });

  it('last-write-wins replicas never merge to nothing and converge, whatever the coordinators\' clocks say', () => {
    // Timestamps tie and go backwards (clock skew between coordinators), and a replica may lose its data and
    // write again as the same actor (a disk restored from a backup), so a clock may cover a dot it never saw.
    // Resolving the causal merge instead loses both values when each replica dropped the other's, one as
    // superseded, one as older.
    type LwwStep = { kind: 'write'; at: number; ts: number } | { kind: 'sync'; from: number; to: number } | { kind: 'lose'; at: number };
    const lwwStep: fc.Arbitrary<LwwStep> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('write' as const), at: fc.nat(2), ts: fc.nat(2) }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('lose' as const), at: fc.nat(2) }), weight: 1 },
    );
    const version = (o: RkvObject): string => JSON.stringify([o.clock, o.siblings.map((x) => x.dot)]);
    fc.assert(
      fc.property(fc.array(lwwStep, { maxLength: 12 }), (steps) => {
        const reps: (RkvObject | undefined)[] = [undefined, undefined, undefined];
        let n = 0;
        for (const s of steps) {
          if (s.kind === 'write') {
            const local = reps[s.at];
            const written = resolveLastWriteWins(applyWrite(local, local?.clock ?? {}, content(`v${n++}`, s.ts), actors[s.at]!));
            // the write supersedes what its coordinator held, whatever its clock said
            if (local && mergeLastWriteWins(local, written) !== written) return false;
            reps[s.at] = written;
          } else if (s.kind === 'lose') {
            reps[s.at] = undefined;
          } else {
            const from = reps[s.from];
            const to = reps[s.to];
            if (from) reps[s.to] = to ? mergeLastWriteWins(to, from) : from;
          }
          for (const x of reps) for (const y of reps) if (x && y && mergeLastWriteWins(x, y).siblings.length !== 1) return false;
        }
        const [x, y, z] = reps;
        if (!x || !y || !z) return true;
        return (
          version(mergeLastWriteWins(x, y)) === version(mergeLastWriteWins(y, x)) &&
          version(mergeLastWriteWins(mergeLastWriteWins(x, y), z)) === version(mergeLastWriteWins(x, mergeLastWriteWins(y, z))) &&
          lastWriteWinsHolds(mergeLastWriteWins(x, y), x) === (version(mergeLastWriteWins(mergeLastWriteWins(x, y), x)) === version(mergeLastWriteWins(x, y)))
        );
      }),
      { numRuns: 20000, seed: 1 },
    );
  });

  it('the merge dominates both inputs', () => {
    fc.assert(fc.property(replicasArb, ([a, b]) => { const m = mergeObjects(a!, b!); return dominates(m, a!) && dominates(m, b!); }));
  });
});

describe('writes and siblings', () => {
  it('a write with the read context replaces what was read', () => {
    const v1 = applyWrite(undefined, {}, content('one'), 'a');
    const v2 = applyWrite(v1, v1.clock, content('two'), 'a');
    assert.deepEqual(v2.siblings.map((s) => s.value.toString()), ['two']);
  });

  it('two writes with the same context become siblings, and a write with the merged context resolves them', () => {
    const base = applyWrite(undefined, {}, content('base'), 'a');
    const x = applyWrite(base, base.clock, content('x'), 'a');
    const y = applyWrite(base, base.clock, content('y'), 'b');
    const merged = mergeObjects(x, y);
    assert.deepEqual(merged.siblings.map((s) => s.value.toString()).sort(), ['x', 'y']);
    const resolved = applyWrite(merged, merged.clock, content('xy'), 'a');
    assert.deepEqual(resolved.siblings.map((s) => s.value.toString()), ['xy']);
  });

  it('a stale replica cannot bring back an overwritten value', () => {
    const v1 = applyWrite(undefined, {}, content('old'), 'a');
    const v2 = applyWrite(v1, v1.clock, content('new'), 'a');
    assert.deepEqual(mergeObjects(v1, v2).siblings.map((s) => s.value.toString()), ['new']);
    assert.deepEqual(mergeObjects(v2, v1).siblings.map((s) => s.value.toString()), ['new']);
  });

  it('last-write-wins keeps the newest concurrent sibling, but a causally later write never loses to an older timestamp', () => {
    const a = applyWrite(undefined, {}, content('a', 10), 'a');
    const b = applyWrite(undefined, {}, content('b', 20), 'b');
    assert.equal(resolveLastWriteWins(mergeObjects(a, b)).siblings[0]!.value.toString(), 'b');
    // written later causally, but with a clock that runs behind
    const later = applyWrite(b, b.clock, content('later', 5), 'a');
    assert.deepEqual(resolveLastWriteWins(mergeObjects(later, b)).siblings.map((s) => s.value.toString()), ['later']);
    assert.deepEqual(mergeLastWriteWins(b, later).siblings.map((s) => s.value.toString()), ['later']);
    assert.ok(later.siblings[0]!.lastModified > 20, 'stamped after the value it replaced');
  });

  it('a key rewritten a thousand times in one millisecond stays within that millisecond', () => {
    let obj: RkvObject | undefined;
    for (let i = 0; i < 1000; i++) obj = resolveLastWriteWins(applyWrite(obj, obj?.clock ?? {}, content(`v${i}`, 1_800_000_000_000), 'a'));
    const at = obj!.siblings[0]!.lastModified;
    assert.ok(at > 1_800_000_000_000 && at < 1_800_000_000_001, `last modified ${at}`);
  });

  it('tombstones and expired values read as absent but keep the clock', () => {
    const v1 = applyWrite(undefined, {}, content('x'), 'a');
    const del = applyWrite(v1, v1.clock, { ...content(''), deleted: true }, 'a');
    assert.equal(isTombstone(del, 0), true);
    assert.equal(isTombstone(mergeObjects(v1, del), 0), true, 'the deleted value must not resurrect from the stale replica');
    const exp = applyWrite(undefined, {}, { ...content('e'), expiresAt: 100 }, 'a');
    assert.equal(liveSiblings(exp, 99).length, 1);
    assert.equal(liveSiblings(exp, 100).length, 0);
  });

  it(`refuses more than ${SIBLING_LIMIT} siblings with a clear error`, () => {
    let o: RkvObject | undefined;
    for (let i = 0; i < SIBLING_LIMIT; i++) o = applyWrite(o, {}, content(`v${i}`), `actor${i}`);
    assert.throws(() => applyWrite(o, {}, content('one too many'), 'z'), SiblingLimitError);
  });
});

describe('codec', () => {
  it('round-trips objects and contexts', () => {
    fc.assert(
      fc.property(replicasArb, ([a]) => {
        const back = decodeObject(encodeObject(a!));
        return norm(back) === norm(a!) && JSON.stringify(decodeContext(encodeContext(a!.clock))) === JSON.stringify(a!.clock);
      }),
    );
  });

  it('rejects garbage with a CodecError', () => {
    assert.throws(() => decodeObject(Buffer.from([0xc1, 0xff, 0x00])), CodecError);
    assert.throws(() => decodeContext('not-base64-msgpack!!'), CodecError);
    assert.throws(() => decodeContext(Buffer.from('"x"').toString('base64')), CodecError);
  });
});
