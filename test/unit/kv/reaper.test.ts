import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Target } from '../../../node/src/kv/preflist.js';
import { reapTombstone } from '../../../node/src/kv/reaper.js';
import type { VnodeRouter } from '../../../node/src/kv/router.js';
import { applyWrite, type RkvObject } from '../../../node/src/object/object.js';
import { clocksEqual } from '../../../node/src/object/vclock.js';
import type { BKey } from '../../../node/src/vnode/vnode.js';

const bkey: BKey = { bucket: Buffer.from('b'), key: Buffer.from('k'), hash32: 0 };
const value = applyWrite(undefined, {}, { value: Buffer.from('v'), contentType: 'text/plain', lastModified: 1, deleted: false }, 'a');
const tombstone = applyWrite(value, value.clock, { value: Buffer.alloc(0), contentType: 'text/plain', lastModified: 2, deleted: true }, 'a');

const at = (node: string, partition: number, primary = true): Target => ({ node, partition, primary });
const primaries = [at('n1', 0), at('n2', 1), at('n3', 2)];

/** An in-memory router over (node, partition) replicas. */
function routerOf(data: Map<string, RkvObject>): VnodeRouter & { reaped: string[] } {
  const id = (t: Target) => `${t.node}/${t.partition}`;
  const reaped: string[] = [];
  return {
    reaped,
    get: async (t) => data.get(id(t)),
    coordinatePut: async () => assert.fail('no writes'),
    mergePut: async () => assert.fail('no writes'),
    reap: async (t, _b, clock) => {
      const o = data.get(id(t));
      if (o && !clocksEqual(o.clock, clock)) return false;
      data.delete(id(t));
      reaped.push(id(t));
      return true;
    },
  };
}

describe('reapTombstone', () => {
  it('reaps when every primary holds the same tombstone, with the same tombstone on a fallback too', async () => {
    const data = new Map([['n1/0', tombstone], ['n2/1', tombstone], ['n3/2', tombstone], ['n2/2', tombstone]]);
    const router = routerOf(data);
    const elsewhere = [at('n2', 2, false), at('n1', 2, false)];
    assert.equal(await reapTombstone(router, primaries, 3, bkey, elsewhere), 'reaped');
    assert.deepEqual(router.reaped.sort(), ['n1/0', 'n2/1', 'n2/2', 'n3/2']);
    assert.equal(data.size, 0);
  });

  it('keeps it while another node holds an older copy of the key (a fallback waiting for hinted handoff)', async () => {
    const data = new Map([['n1/0', tombstone], ['n2/1', tombstone], ['n3/2', tombstone], ['n2/2', value]]);
    const router = routerOf(data);
    assert.equal(await reapTombstone(router, primaries, 3, bkey, [at('n2', 2, false)]), 'kept');
    assert.deepEqual(router.reaped, []);
  });

  it('keeps it when some member cannot be asked, a primary is missing or a fallback stands in', async () => {
    const data = new Map([['n1/0', tombstone], ['n2/1', tombstone], ['n3/2', tombstone]]);
    assert.equal(await reapTombstone(routerOf(data), primaries, 3, bkey, undefined), 'kept');
    assert.equal(await reapTombstone(routerOf(data), primaries.slice(0, 2), 3, bkey, []), 'kept');
    assert.equal(await reapTombstone(routerOf(data), [...primaries.slice(0, 2), at('n1', 2, false)], 3, bkey, []), 'kept');
  });

  it('says absent when there is nothing left to reap', async () => {
    assert.equal(await reapTombstone(routerOf(new Map()), primaries, 3, bkey, []), 'absent');
  });
});
