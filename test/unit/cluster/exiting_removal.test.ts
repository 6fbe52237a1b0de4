import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXITING_GRACE_ROUNDS, RingManager } from '../../../node/src/cluster/ring_manager.js';
import { freshRing, type Member, type Ring } from '../../../node/src/ring/ring.js';
import { freePort } from '../../support/free_port.js';
import { silent, startNode } from './transport_helpers.js';

describe('claimant and exiting members', () => {
  it('drops an exiting member whose `exited` never arrived, after the grace rounds, and nothing else', { timeout: 10_000 }, async () => {
    const node = await startNode('a@127.0.0.1');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-exiting-'));
    // nobody listens there: the leaver is gone and its message with it
    const dead = `127.0.0.1:${await freePort()}`;
    const a: Member = { name: 'a@127.0.0.1', status: 'valid', clusterAddress: node.ref.address, httpAddress: '127.0.0.1:1' };
    const b: Member = { name: 'b@127.0.0.1', status: 'exiting', clusterAddress: dead, httpAddress: '127.0.0.1:1' };
    const c: Member = { name: 'c@127.0.0.1', status: 'leaving', clusterAddress: dead, httpAddress: '127.0.0.1:1' };
    const base = freshRing('cluster-1', 'test', a, 8);
    const ring: Ring = { ...base, owners: base.owners.map((o, i) => (i === 7 ? c.name : o)), members: { ...base.members, [b.name]: b, [c.name]: c }, version: 5 };
    let rounds = 0;
    const rm = new RingManager(ring, { dataDir, self: a, transport: node.t, logger: silent, gossipIntervalMs: 5, onGossipRound: () => rounds++ });
    try {
      const removed = new Promise<{ ring: Ring; rounds: number }>((resolve) =>
        rm.onChange((next) => {
          if (!next.members[b.name]) resolve({ ring: next, rounds });
        }),
      );
      rm.start();
      const got = await removed;
      assert.ok(got.rounds >= EXITING_GRACE_ROUNDS, `removed after ${got.rounds} rounds`);
      assert.deepEqual(Object.keys(got.ring.members).sort(), [a.name, c.name], 'the leaving member (still owning a partition) stays');
      assert.ok(got.ring.version > ring.version, 'a versioned change every member adopts');
    } finally {
      rm.stop();
      await rm.flushed();
      await node.t.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
