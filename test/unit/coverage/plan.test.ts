import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { coveragePlan, samplePlan } from '../../../node/src/coverage/plan.js';
import { partitionsReplicatedBy } from '../../../node/src/ring/chash.js';
import { mergeAcc, emptyAcc, type FoldAcc } from '../../../node/src/coverage/fold.js';

const sizes = [8, 16, 32, 64, 128, 256, 512, 1024];

function owners(size: number, nodes: number): string[] {
  return Array.from({ length: size }, (_, i) => `n${i % nodes}`);
}

describe('coverage plan', () => {
  it('covers every partition exactly r times, only from vnodes that hold it, for ring sizes 8..1024 and n_val 1..5', () => {
    fc.assert(
      fc.property(fc.constantFrom(...sizes), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.nat(2000), fc.integer({ min: 1, max: 3 }), (size, nval, nodes, offset, r) => {
        const own = owners(size, nodes);
        const plan = coveragePlan({ ringSize: size, owners: own, up: new Set(own), nval, offset, r });
        const times = new Array<number>(size).fill(0);
        for (const v of plan.vnodes) {
          for (const arc of v.arcs) {
            if (!partitionsReplicatedBy(v.partition, size, nval).includes(arc)) return false;
            times[arc]!++;
          }
          if (v.node !== own[v.partition]) return false;
        }
        const want = Math.min(r, nval);
        return plan.uncovered.length === 0 && times.every((t) => t === want);
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('with nodes down covers every arc that has a reachable replica exactly once and reports the rest', () => {
    fc.assert(
      fc.property(fc.constantFrom(...sizes), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 8 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (size, nval, nodes, downMask) => {
        const own = owners(size, nodes);
        const up = new Set(own.filter((o) => !downMask[Number(o.slice(1))]));
        const plan = coveragePlan({ ringSize: size, owners: own, up, nval });
        const times = new Array<number>(size).fill(0);
        for (const v of plan.vnodes) {
          if (!up.has(v.node)) return false;
          for (const arc of v.arcs) times[arc]!++;
        }
        for (let arc = 0; arc < size; arc++) {
          const reachable = Array.from({ length: Math.min(nval, size) }, (_, i) => own[(arc + i) % size]!).some((o) => up.has(o));
          if (reachable ? times[arc] !== 1 : times[arc] !== 0 || !plan.uncovered.includes(arc)) return false;
        }
        return true;
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('asks about ringSize / n vnodes when all are up, also when n does not divide the ring', () => {
    const p = coveragePlan({ ringSize: 64, owners: owners(64, 4), up: new Set(['n0', 'n1', 'n2', 'n3']), nval: 3 });
    assert.equal(p.vnodes.length, 22);
    assert.ok(p.vnodes.some((v) => v.arcs.length < 3), 'one vnode answers with a keyspace filter');
  });

  it('the offset moves the plan to other replicas, deterministically', () => {
    const base = { ringSize: 16, owners: owners(16, 4), up: new Set(['n0', 'n1', 'n2', 'n3']), nval: 3 };
    assert.deepEqual(coveragePlan({ ...base, offset: 1 }), coveragePlan({ ...base, offset: 1 }));
    assert.notDeepEqual(coveragePlan({ ...base, offset: 0 }).vnodes.map((v) => v.partition), coveragePlan({ ...base, offset: 1 }).vnodes.map((v) => v.partition));
  });

  it('a sample asks a fraction of the vnodes and says how much of the ring it covers', () => {
    const plan = coveragePlan({ ringSize: 64, owners: owners(64, 4), up: new Set(['n0', 'n1', 'n2', 'n3']), nval: 1 });
    const s = samplePlan(plan, 64, 0.25);
    assert.equal(s.vnodes.length, 16);
    assert.equal(s.coveredFraction, 0.25);
    assert.throws(() => samplePlan(plan, 64, 0), RangeError);
  });
});

describe('fold accumulators', () => {
  const accArb: fc.Arbitrary<FoldAcc> = fc.record({ count: fc.nat(100), bytes: fc.nat(10000), maxBytes: fc.nat(1000), keys: fc.array(fc.string().map((s) => Buffer.from(s)), { maxLength: 3 }) });
  const norm = (a: FoldAcc) => ({ ...a, keys: a.keys.map((k) => k.toString()).sort() });
  it('merge associatively and commutatively (as sets of keys), with an identity', () => {
    fc.assert(
      fc.property(accArb, accArb, accArb, (a, b, c) => {
        assert.deepEqual(norm(mergeAcc(mergeAcc(a, b), c)), norm(mergeAcc(a, mergeAcc(b, c))));
        assert.deepEqual(norm(mergeAcc(a, b)), norm(mergeAcc(b, a)));
        assert.deepEqual(norm(mergeAcc(a, emptyAcc())), norm(a));
      }),
      { seed: 3 },
    );
  });
});
