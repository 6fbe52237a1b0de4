import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RocksDbBackend, RowCache } from '../../../node/src/backend/rocksdb.js';

async function withDb(opts: { rowCacheSize?: number }, fn: (db: RocksDbBackend, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rkv-rows-'));
  const db = await RocksDbBackend.open(dir, opts);
  try {
    await fn(db, dir);
  } finally {
    await db.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

const k = (s: string): Buffer => Buffer.from(s);

/** Closes `db` and runs `fn` on a fresh backend over the same data: nothing of it cached. */
async function reopened(db: RocksDbBackend, fn: (db2: RocksDbBackend) => Promise<void>): Promise<void> {
  await db.close();
  const db2 = await RocksDbBackend.open(db.dir, {});
  try {
    await fn(db2);
  } finally {
    await db2.close();
  }
}

describe('RocksDB row cache', () => {
  it('serves reads of written and read keys and stays coherent with writes, deletes and drops', async () => {
    await withDb({}, async (db) => {
      assert.equal(await db.get(k('a1')), undefined);
      await db.put(k('a1'), k('one'));
      assert.equal((await db.get(k('a1')))?.toString(), 'one');
      // reads racing a write see the write once it is acknowledged
      const w = db.put(k('a1'), k('two'));
      const r = db.get(k('a1'));
      await w;
      assert.equal((await r)?.toString(), 'two');
      assert.equal((await db.get(k('a1')))?.toString(), 'two');
      await db.del(k('a1'));
      assert.equal(await db.get(k('a1')), undefined);
      await db.batch([
        { type: 'put', key: k('a2'), value: k('x') },
        { type: 'put', key: k('b1'), value: k('y') },
      ]);
      assert.equal((await db.get(k('a2')))?.toString(), 'x');
      await db.dropRange({ gte: k('a'), lt: k('b') });
      assert.equal(await db.get(k('a2')), undefined);
      assert.equal((await db.get(k('b1')))?.toString(), 'y');
    });
  });

  it('peekCached answers in the same turn only what the row cache knows for sure', async () => {
    await withDb({}, async (db) => {
      // never read: only an asynchronous read can tell
      assert.equal(db.peekCached('p1'), undefined);
      assert.equal(await db.get(k('p1')), undefined);
      assert.equal(db.peekCached('p1'), null, 'known absent after a read found nothing');
      await db.put(k('p1'), k('one'));
      const entry = db.peekCached('p1');
      assert.equal(entry?.value.toString(), 'one');
      entry!.memo = 'decoded one';
      // a write in flight: the cache must not answer with the value it replaces
      const w = db.put(k('p1'), k('two'));
      assert.equal(db.peekCached('p1'), undefined);
      await w;
      const again = db.peekCached('p1');
      assert.equal(again?.value.toString(), 'two');
      assert.equal(again?.memo, undefined, 'the memo of the replaced value is gone');
      // a drop in flight, then landed
      const d = db.dropRange({ gte: k('p'), lt: k('q') });
      assert.equal(db.peekCached('p1'), undefined);
      await d;
      assert.equal(db.peekCached('p1'), undefined);
      assert.equal(await db.get(k('p1')), undefined);
      // bulk writes (handoff data) are not cached
      await db.batch([{ type: 'put', key: k('p2'), value: k('bulk') }], { bulk: true });
      assert.equal(db.peekCached('p2'), undefined);
      assert.equal((await db.get(k('p2')))?.toString(), 'bulk');
      assert.equal(db.peekCached('p2')?.value.toString(), 'bulk');
    });
    await withDb({ rowCacheSize: 0 }, async (db) => {
      await db.put(k('z'), k('v'));
      assert.equal(db.peekCached('z'), undefined, 'no row cache, no same-turn answers');
    });
  });

  it('peekLatest builds on writes issued and not yet durable; putLatest keeps the memo with the row', async () => {
    await withDb({}, async (db) => {
      assert.equal(db.peekLatest('q1'), undefined, 'never read: unknown');
      assert.equal(await db.get(k('q1')), undefined);
      assert.equal(db.peekLatest('q1'), null);
      const first = db.putLatest('q1', k('one'), 'memo one');
      // issued, not durable: a writer builds on it, a reader still waits for it
      assert.equal(db.peekLatest('q1')?.value.toString(), 'one');
      assert.equal(db.peekLatest('q1')?.memo, 'memo one');
      assert.equal(db.peekCached('q1'), undefined);
      // more writes of the key in the same turn share the waiting batch; the last one counts
      const more = Array.from({ length: 50 }, (_, i) => db.putLatest('q1', k(`v${i}`), `memo ${i}`));
      assert.equal(db.peekLatest('q1')?.value.toString(), 'v49');
      await Promise.all([first, ...more]);
      assert.equal((await db.get(k('q1')))?.toString(), 'v49');
      const row = db.peekCached('q1');
      assert.equal(row?.value.toString(), 'v49', 'the row of a key written many times in one batch stays cached');
      assert.equal(row?.memo, 'memo 49');
      // a write racing a drop: nothing to build on until the drop lands
      const d = db.dropRange({ gte: k('q'), lt: k('r') });
      assert.equal(db.peekLatest('q1'), undefined);
      await d;
      assert.equal(await db.get(k('q1')), undefined);
      await db.close();
      await assert.rejects(db.putLatest('q1', k('late'), undefined), /closed/);
    });
  });

  it('a read issued before a write never caches the older value over it', async () => {
    await withDb({}, async (db) => {
      await db.put(k('k'), k('old'));
      // evict nothing, but make the key cold
      await reopened(db, async (db2) => {
        const read = db2.get(k('k'));
        const write = db2.put(k('k'), k('new'));
        assert.equal((await read)?.toString(), 'old');
        await write;
        assert.equal((await db2.get(k('k')))?.toString(), 'new');
      });
    });
  });

  it('caches a read while other keys are written, but never one whose own key was written meanwhile', async () => {
    await withDb({}, async (db) => {
      await db.put(k('c1'), k('one'));
      await db.put(k('c2'), k('two'));
      await reopened(db, async (db2) => {
        // both reads go to the database in one batch; writes are issued while they are queued
        const r1 = db2.get(k('c1'));
        const r2 = db2.get(k('c2'));
        const other = db2.put(k('c3'), k('three'));
        const own = db2.put(k('c2'), k('TWO'));
        assert.equal((await r1)?.toString(), 'one');
        assert.equal((await r2)?.toString(), 'two');
        await Promise.all([other, own]);
        assert.equal(db2.peekCached('c1')?.value.toString(), 'one', 'a busy backend still caches what it reads');
        assert.equal(db2.peekCached('c2')?.value.toString(), 'TWO', 'the write, not the read it overtook');
      });
    });
  });

  it('evicts to stay within its size and reads through after eviction', async () => {
    await withDb({ rowCacheSize: 64 * 1024 }, async (db) => {
      const value = Buffer.alloc(1000, 1);
      for (let i = 0; i < 500; i++) await db.put(k(`key${i}`), value);
      for (let i = 0; i < 500; i++) assert.equal((await db.get(k(`key${i}`)))?.length, 1000);
    });
  });

  it('works with the cache turned off', async () => {
    await withDb({ rowCacheSize: 0 }, async (db) => {
      await db.put(k('a'), k('1'));
      assert.equal((await db.get(k('a')))?.toString(), '1');
    });
  });
});

describe('RowCache', () => {
  it('keeps within its byte limit, evicting oldest first, in linear time', () => {
    // ~100k rows of 10 bytes; 400k inserts make 300k evictions. Evicting by
    // iterating a Map from its start (deleted slots included) took ~8 s here;
    // the order array takes well under a second.
    const c = new RowCache(8_000_000);
    const v = Buffer.alloc(10);
    const t0 = performance.now();
    for (let i = 0; i < 400_000; i++) {
      c.set(`k${i}`, v);
      if (i % 7 === 0) c.delete(`k${i - 3}`);
      if (i % 5 === 0) c.set(`k${i}`, undefined);
    }
    assert.ok(performance.now() - t0 < 4000, 'eviction must not rescan deleted entries');
    assert.equal(c.get('k0'), undefined, 'the oldest rows went first');
    assert.deepEqual(c.get('k399999'), v);
    let live = 0;
    for (let i = 0; i < 400_000; i++) if (c.get(`k${i}`) !== undefined) live++;
    assert.ok(live > 50_000 && live <= 8_000_000 / (2 + 64), `${live} rows kept`);
  });

  it('rewrites a row in place and forgets deleted and oversized rows', () => {
    const c = new RowCache(10_000);
    c.set('a', Buffer.from('1'));
    c.set('a', Buffer.from('2'));
    assert.equal(c.get('a')?.toString(), '2');
    c.set('b', undefined);
    assert.equal(c.get('b'), null);
    c.delete('a');
    assert.equal(c.get('a'), undefined);
    c.set('c', Buffer.alloc(5000));
    assert.equal(c.get('c'), undefined);
    c.set('b', Buffer.alloc(5000));
    assert.equal(c.get('b'), undefined, 'an oversized rewrite drops the old row');
  });
});
