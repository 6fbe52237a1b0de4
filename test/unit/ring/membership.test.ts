import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { freshRing, ownership, futureOwners, type Member, type Ring } from '../../../node/src/ring/ring.js';
import { clearStaged, commit, completeTransfer, mergeRings, MembershipError, plan, removeExited, stageForceRemove, stageJoin, stageLeave } from '../../../node/src/ring/membership.js';

const member = (name: string): Member => ({ name, status: 'valid', clusterAddress: `${name}:8099`, httpAddress: `${name}:8098` });
const digest = (r: Ring) => createHash('sha1').update(JSON.stringify(r)).digest('hex');

function completeAll(ring: Ring): Ring {
  let r = ring;
  for (const t of [...r.next]) r = completeTransfer(r, t);
  return r;
}

function cluster(n: number, size = 16): Ring {
  let r = freshRing('c1', 'rkv', member('n1'), size);
  for (let i = 2; i <= n; i++) r = stageJoin(r, member(`n${i}`), size);
  return n > 1 ? completeAll(commit(r)) : r;
}

describe('membership', () => {
  it('join -> plan -> commit gives three valid members owning 31-38% of a 16-partition ring once transfers finish', () => {
    let r = freshRing('c1', 'rkv', member('n1'), 16);
    r = stageJoin(r, member('n2'), 16);
    r = stageJoin(r, member('n3'), 16);
    assert.equal(r.members.n2!.status, 'joining');
    const p = plan(r);
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.node}`), ['join n2', 'join n3']);
    assert.equal(p.transfers.length, 10, 'n2 and n3 take 5 partitions each from n1');
    assert.ok(p.transfers.every((t) => t.from === 'n1'));
    r = p.ring;
    assert.deepEqual(Object.values(r.members).map((m) => m.status), ['valid', 'valid', 'valid']);
    assert.equal(r.owners.filter((o) => o === 'n1').length, 16, 'ownership changes only when handoffs complete');
    r = completeAll(r);
    for (const share of ownership(r.owners, Object.keys(r.members)).values()) assert.ok(share >= 0.31 && share <= 0.38, `share ${share}`);
    assert.equal(r.next.length, 0);
  });

  it('refuses joins with another ring size, duplicate members and empty plans, with clear messages', () => {
    const r = cluster(2);
    assert.throws(() => stageJoin(r, member('n9'), 32), /ring size mismatch/);
    assert.throws(() => stageJoin(r, member('n2'), 16), /already a member/);
    assert.throws(() => plan(r), /no staged changes/);
    assert.throws(() => stageLeave(r, 'nope'), MembershipError);
  });

  it('leave hands off everything, then the node becomes exiting and is removed', () => {
    let r = cluster(3);
    const owned = r.owners.filter((o) => o === 'n3').length;
    r = commit(stageLeave(r, 'n3'));
    assert.equal(r.members.n3!.status, 'leaving');
    // every partition of the leaver moves; claim may also re-stripe the others to keep replicas apart
    assert.equal(r.next.filter((t) => t.from === 'n3').length, owned);
    assert.ok(r.next.every((t) => t.to !== 'n3'));
    r = completeAll(r);
    assert.equal(r.members.n3!.status, 'exiting');
    assert.ok(!r.owners.includes('n3'));
    r = removeExited(r, 'n3');
    assert.deepEqual(Object.keys(r.members).sort(), ['n1', 'n2']);
  });

  it('the last member cannot leave', () => {
    assert.throws(() => stageLeave(cluster(1), 'n1'), /last member/);
  });

  it('force-remove reassigns a dead node\'s partitions at once, without handoff from it', () => {
    let r = cluster(3);
    const p = plan(stageForceRemove(r, 'n2', 'n1'));
    assert.ok(p.reassigned.length > 0 && p.reassigned.every((t) => t.from === 'n2'));
    assert.ok(p.transfers.every((t) => t.from !== 'n2'));
    r = p.ring;
    assert.ok(!r.owners.includes('n2'));
    assert.equal(r.members.n2, undefined);
  });

  it('clear drops staged changes and staged joiners', () => {
    const r = clearStaged(stageJoin(cluster(2), member('n3'), 16));
    assert.equal(r.staged.length, 0);
    assert.equal(r.members.n3, undefined);
  });

  it('a completion that is retried or unknown changes nothing', () => {
    const r = commit(stageJoin(cluster(1), member('n2'), 16));
    const t = r.next[0]!;
    const once = completeTransfer(r, t);
    assert.equal(completeTransfer(once, t), once);
  });

  it('a second plan during pending transfers plans from the future ownership', () => {
    let r = commit(stageJoin(cluster(1), member('n2'), 16));
    r = commit(stageJoin(r, member('n3'), 16));
    r = completeAll(r);
    const counts = [...ownership(r.owners, Object.keys(r.members)).values()].map((s) => s * 16).sort();
    assert.deepEqual(counts, [5, 5, 6]);
    assert.deepEqual(futureOwners(r), r.owners);
  });

  it('gossip merge: higher version wins, ties resolve the same way in any order, other clusters are ignored', () => {
    const base = cluster(2);
    const a = stageJoin(base, member('n3'), 16);
    const b = stageJoin(base, member('n4'), 16);
    assert.equal(mergeRings(base, a, digest), a);
    assert.equal(mergeRings(a, base, digest), a);
    assert.equal(mergeRings(a, b, digest), mergeRings(b, a, digest));
    const other = { ...freshRing('c2', 'rkv', member('x'), 16), version: 99 };
    assert.equal(mergeRings(base, other, digest), base);
  });
});
