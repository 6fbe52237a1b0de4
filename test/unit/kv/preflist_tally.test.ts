import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { preflist } from '../../../node/src/kv/preflist.js';
import { resolveQuorum, tally, type QuorumSpec } from '../../../node/src/kv/tally.js';
import { BadRequestError } from '../../../node/src/kv/types.js';
import type { Ring } from '../../../node/src/ring/ring.js';
import { partitionStart } from '../../../node/src/ring/chash.js';

function ringOf(nodes: string[], size: number): Ring {
  const members = Object.fromEntries(nodes.map((n) => [n, { name: n, status: 'valid' as const, clusterAddress: '', httpAddress: '' }]));
  return { clusterId: 'c', next: [], staged: [], clusterName: 't', createdRingSize: size, ringSize: size, owners: Array.from({ length: size }, (_, i) => nodes[i % nodes.length]!), members, claimant: nodes[0]!, version: 1 };
}

describe('preflist', () => {
  it('is the next n partitions on their owners when all are up', () => {
    const ring = ringOf(['n1', 'n2', 'n3'], 16);
    const pl = preflist(ring, partitionStart(15, 16), 3, new Set(['n1', 'n2', 'n3']));
    assert.deepEqual(pl, [
      { partition: 15, node: 'n1', primary: true },
      { partition: 0, node: 'n1', primary: true },
      { partition: 1, node: 'n2', primary: true },
    ]);
  });

  it('replaces a down owner by a fallback on an up node not already in the list', () => {
    const ring = ringOf(['n1', 'n2', 'n3', 'n4'], 16);
    const pl = preflist(ring, partitionStart(0, 16), 3, new Set(['n1', 'n3', 'n4']));
    assert.deepEqual(pl, [
      { partition: 0, node: 'n1', primary: true },
      { partition: 2, node: 'n3', primary: true },
      { partition: 1, node: 'n4', primary: false, for: 'n2' },
    ]);
  });

  it('in a 3-node cluster with a node down, the dead node\'s replica goes to a fallback on a surviving node', () => {
    const ring = ringOf(['n1', 'n2', 'n3'], 16);
    const pl = preflist(ring, partitionStart(0, 16), 3, new Set(['n1', 'n2']));
    assert.equal(pl.length, 3);
    assert.deepEqual(pl[2], { partition: 2, node: 'n1', primary: false, for: 'n3' });
  });

  it('fallbacks are distinct, prefer nodes without a replica, and cover every down primary when enough nodes are up', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.nat(2 ** 32 - 1), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (nodes, n, h, upMask) => {
        const names = Array.from({ length: nodes }, (_, i) => `n${i}`);
        const ring = ringOf(names, 32);
        const up = new Set(names.filter((_, i) => upMask[i]));
        const pl = preflist(ring, h, n, up);
        const fallbackNodes = pl.filter((t) => !t.primary).map((t) => t.node);
        const primaries = new Set(pl.filter((t) => t.primary).map((t) => t.node));
        const expected = Math.min(n, 32);
        const downCount = pl.filter((t) => t.primary).length;
        const missing = expected - downCount;
        const spare = [...up].filter((u) => !primaries.has(u)).length;
        return (
          pl.length <= n &&
          pl.every((t) => up.has(t.node)) &&
          new Set(pl.map((t) => `${t.node}/${t.partition}`)).size === pl.length &&
          new Set(fallbackNodes).size === fallbackNodes.length &&
          (spare < missing || fallbackNodes.every((f) => !primaries.has(f))) &&
          (up.size < missing || pl.length === expected)
        );
      }),
    );
  });
});

describe('quorum tally', () => {
  it('resolves symbolic quorums and refuses ones larger than n', () => {
    assert.equal(resolveQuorum('r', 'quorum', 3), 2);
    assert.equal(resolveQuorum('r', 'quorum', 5), 3);
    assert.equal(resolveQuorum('r', 'all', 3), 3);
    assert.equal(resolveQuorum('r', 'one', 3), 1);
    assert.throws(() => resolveQuorum('w', 4, 3), BadRequestError);
  });

  it('is won at R successes with PR primaries and lost when that becomes impossible', () => {
    const spec: QuorumSpec = { need: 2, needPrimary: 0, asked: 3, askedPrimary: 3 };
    assert.equal(tally(spec, { ok: 1, okPrimary: 1, failed: 0, failedPrimary: 0 }), 'pending');
    assert.equal(tally(spec, { ok: 2, okPrimary: 2, failed: 0, failedPrimary: 0 }), 'won');
    assert.equal(tally(spec, { ok: 1, okPrimary: 1, failed: 2, failedPrimary: 2 }), 'lost');
    const pr: QuorumSpec = { need: 2, needPrimary: 3, asked: 3, askedPrimary: 2 };
    assert.equal(tally(pr, { ok: 0, okPrimary: 0, failed: 0, failedPrimary: 0 }), 'lost');
  });
});
