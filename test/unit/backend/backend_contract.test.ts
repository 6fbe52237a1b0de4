import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Backend, BatchOp, KeyRange } from '../../../node/src/backend/backend.js';
import { openBackend } from '../../../node/src/backend/open.js';
import { RocksDbBackend } from '../../../node/src/backend/rocksdb.js';
import { MemoryBackend } from '../../../node/src/backend/memory.js';

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);
const s = (text: string): Buffer => Buffer.from(text);
/** Above every key these tests write. */
const ALL: KeyRange = { gte: b(0x00), lt: Buffer.alloc(16, 0xff) };

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'rkv-backend-'));
}

async function withBackend(kind: 'memory' | 'rocksdb', fn: (db: Backend, dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const db = await openBackend(kind, dir);
  try {
    await fn(db, dir);
  } finally {
    await db.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

async function entries(db: Backend, range = ALL): Promise<[string, string][]> {
  const out: [string, string][] = [];
  await db.fold(range, (k, v) => void out.push([k.toString('hex'), v.toString('hex')]));
  return out;
}

type Op =
  | { t: 'put'; key: Buffer; value: Buffer }
  | { t: 'del'; key: Buffer }
  | { t: 'batch'; ops: BatchOp[] }
  | { t: 'drop'; a: Buffer; b: Buffer }
  | { t: 'get'; key: Buffer };

// A dozen keys, so that ops collide on keys and ranges often.
const keyArb = fc.array(fc.constantFrom(0x00, 0x7f, 0xff), { minLength: 1, maxLength: 2 }).map((a) => Buffer.from(a));
const valueArb = fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a));
const putArb = fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb });
const delArb = fc.record({ type: fc.constant('del' as const), key: keyArb });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  putArb.map(({ key, value }): Op => ({ t: 'put', key, value })),
  delArb.map(({ key }): Op => ({ t: 'del', key })),
  fc.array(fc.oneof(putArb, delArb), { maxLength: 5 }).map((ops): Op => ({ t: 'batch', ops })),
  fc.record({ a: keyArb, b: keyArb }).map(({ a, b: c }): Op => ({ t: 'drop', a, b: c })),
  keyArb.map((key): Op => ({ t: 'get', key })),
);

/** Issues ops (awaiting only where `settle` says) and checks every read and the end state against a sorted-Map model. */
async function checkAgainstModel(db: Backend, steps: { op: Op; settle: boolean }[]): Promise<void> {
  await db.dropRange(ALL);
  const model = new Map<string, Buffer>();
  const inflight: Promise<void>[] = [];
  for (const { op, settle } of steps) {
    if (settle) await Promise.all(inflight.splice(0));
    switch (op.t) {
      case 'put':
        model.set(op.key.toString('hex'), Buffer.from(op.value));
        inflight.push(db.put(op.key, op.value));
        break;
      case 'del':
        model.delete(op.key.toString('hex'));
        inflight.push(db.del(op.key));
        break;
      case 'batch':
        for (const o of op.ops) {
          if (o.type === 'put') model.set(o.key.toString('hex'), Buffer.from(o.value));
          else model.delete(o.key.toString('hex'));
        }
        inflight.push(db.batch(op.ops));
        break;
      case 'drop': {
        const [gte, lt] = Buffer.compare(op.a, op.b) <= 0 ? [op.a, op.b] : [op.b, op.a];
        for (const k of [...model.keys()]) {
          const kb = Buffer.from(k, 'hex');
          if (Buffer.compare(kb, gte) >= 0 && Buffer.compare(kb, lt) < 0) model.delete(k);
        }
        inflight.push(db.dropRange({ gte, lt }));
        break;
      }
      case 'get': {
        const expected = model.get(op.key.toString('hex'))?.toString('hex');
        inflight.push(db.get(op.key).then((v) => assert.equal(v?.toString('hex'), expected, `get ${op.key.toString('hex')}`)));
      }
    }
  }
  await Promise.all(inflight);
  const want = [...model.entries()]
    .sort(([x], [y]) => Buffer.compare(Buffer.from(x, 'hex'), Buffer.from(y, 'hex')))
    .map(([k, v]): [string, string] => [k, v.toString('hex')]);
  assert.deepEqual(await entries(db), want);
  assert.equal(await db.isEmpty(ALL), want.length === 0);
}

for (const kind of ['memory', 'rocksdb'] as const) {
  describe(`${kind} backend contract`, () => {
    it('gets, puts, deletes and reads many', () =>
      withBackend(kind, async (db) => {
        assert.equal(db.name, kind);
        assert.equal(await db.get(s('a')), undefined);
        const value = s('one');
        await db.put(s('a'), value);
        value.write('XXX'); // the backend must have copied it
        await db.put(s('b'), Buffer.alloc(0));
        assert.deepEqual(await db.get(s('a')), s('one'));
        assert.deepEqual(await db.get(s('b')), Buffer.alloc(0));
        assert.deepEqual(await db.getMany([s('b'), s('zz'), s('a')]), [Buffer.alloc(0), undefined, s('one')]);
        await db.del(s('a'));
        await db.del(s('never'));
        assert.equal(await db.get(s('a')), undefined);
        await assert.rejects(db.put(Buffer.alloc(0), s('x')), /non-empty Buffer/);
        await assert.rejects(db.batch([{ type: 'put', key: s('c'), value: 'x' as unknown as Buffer }]), /must be a Buffer/);
        assert.equal(await db.get(s('c')), undefined);
        assert.ok((await db.approximateSize()) > 0);
      }));

    it('applies a batch in order', () =>
      withBackend(kind, async (db) => {
        await db.put(s('gone'), s('1'));
        await db.batch([
          { type: 'put', key: s('k'), value: s('1') },
          { type: 'del', key: s('k') },
          { type: 'put', key: s('j'), value: s('1') },
          { type: 'put', key: s('j'), value: s('2') },
          { type: 'del', key: s('gone') },
        ]);
        assert.deepEqual(await entries(db), [['j', '2'].map((x) => Buffer.from(x).toString('hex')) as [string, string]]);
        await db.batch([]);
      }));

    it('folds binary keys in bytewise order, with limits, early stop and keysOnly', () =>
      withBackend(kind, async (db) => {
        const keys = [b(0xff, 0xff), b(0x00), b(0x80), b(0x00, 0x00), b(0xff), b(0x01), b(0x7f), b(0xff, 0x00), b(0x00, 0xff)];
        await Promise.all(keys.map((k, i) => db.put(k, b(i))));
        const sorted = [...keys].sort(Buffer.compare).map((k) => k.toString('hex'));
        assert.deepEqual((await entries(db)).map(([k]) => k), sorted);
        const sub = await entries(db, { gte: b(0x00, 0x00), lt: b(0xff) });
        assert.deepEqual(sub.map(([k]) => k), ['0000', '00ff', '01', '7f', '80']);
        const seen: string[] = [];
        assert.equal(await db.fold(ALL, (k) => void seen.push(k.toString('hex')), { limit: 3 }), 3);
        assert.deepEqual(seen, sorted.slice(0, 3));
        assert.equal(await db.fold(ALL, () => seen.length < 5 && !!seen.push('x')), 3);
        assert.equal(await db.fold(ALL, () => {}, { limit: 0 }), 0);
        assert.equal(await db.fold({ gte: b(0x80), lt: b(0x80) }, () => {}), 0);
        await db.fold(ALL, (_k, v) => assert.equal(v.length, 0), { keysOnly: true });
        await assert.rejects(db.fold(ALL, () => { throw new Error('visitor failed'); }), /visitor failed/);
        assert.equal(await db.fold(ALL, () => {}), keys.length);
      }));

    it('answers isEmpty and drops exactly the range', () =>
      withBackend(kind, async (db) => {
        const keys = [b(0x01), b(0x01, 0xff), b(0x02), b(0x02, 0x00), b(0x02, 0xff), b(0x03), b(0x03, 0x00)];
        await db.batch(keys.map((key) => ({ type: 'put', key, value: key })));
        const range = { gte: b(0x02), lt: b(0x03) };
        assert.equal(await db.isEmpty(range), false);
        assert.equal(await db.isEmpty({ gte: b(0x04), lt: b(0x05) }), true);
        await db.dropRange({ gte: b(0x03), lt: b(0x02) }); // inverted: nothing
        await db.dropRange(range);
        assert.equal(await db.isEmpty(range), true);
        assert.deepEqual((await entries(db)).map(([k]) => k), ['01', '01ff', '03', '0300']);
        // Issued in one tick: each read must see exactly the writes issued before it.
        const drop = db.dropRange({ gte: b(0x01), lt: b(0x02) });
        const [gone, put] = [db.get(b(0x01)), db.put(b(0x01, 0x01), s('back'))];
        const folded = entries(db, { gte: b(0x01), lt: b(0x02) });
        await Promise.all([drop, put]);
        assert.equal(await gone, undefined);
        assert.deepEqual(await folded, [['0101', s('back').toString('hex')]]);
      }));

    it('tolerates mutation during a fold and sees the range as it was', () =>
      withBackend(kind, async (db) => {
        const n = 5000; // more than one memory-backend yield slice
        const key = (i: number): Buffer => Buffer.from(`k${String(i).padStart(5, '0')}`);
        await db.batch(Array.from({ length: n }, (_, i) => ({ type: 'put' as const, key: key(i), value: s('v') })));
        const writes: Promise<void>[] = [];
        const seen = await db.fold(ALL, (k) => {
          writes.push(db.del(k), db.put(Buffer.concat([k, s('+')]), s('new')));
        });
        assert.equal(seen, n);
        await Promise.all(writes);
        assert.equal(await db.get(key(0)), undefined);
        assert.equal((await entries(db)).length, n);
        assert.equal(await db.fold(ALL, (k) => assert.ok(k.toString().endsWith('+'))), n);
      }));

    it('lands every concurrent write and read in issue order', () =>
      withBackend(kind, async (db) => {
        const last = new Map<number, number>();
        const checks: Promise<void>[] = [];
        for (let i = 0; i < 2000; i++) {
          const k = (i * 7919) % 97;
          checks.push(db.put(s(`key${k}`), s(String(i))));
          last.set(k, i);
          if (i % 3 === 0) {
            const want = String(last.get((i * 31) % 97) ?? '');
            checks.push(db.get(s(`key${(i * 31) % 97}`)).then((v) => assert.equal(v?.toString() ?? '', want)));
          }
        }
        await Promise.all(checks);
        const keys = [...last.keys()];
        const got = await db.getMany(keys.map((k) => s(`key${k}`)));
        assert.deepEqual(got.map((v) => v?.toString()), keys.map((k) => String(last.get(k))));
      }));

    it('stays ordered through thousands of inserts, deletes and drops', () =>
      withBackend(kind, async (db) => {
        let seed = 42;
        const rand = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
        const key = (i: number): Buffer => b(i >> 8, i & 0xff);
        const model = new Set<number>();
        for (let round = 0; round < 6; round++) {
          const ops: BatchOp[] = [];
          for (let j = 0; j < 3000; j++) {
            const i = rand(4096);
            const del = rand(3) === 0;
            ops.push(del ? { type: 'del', key: key(i) } : { type: 'put', key: key(i), value: b(round) });
            if (del) model.delete(i);
            else model.add(i);
          }
          await db.batch(ops);
          // Every other round drops a wide block, which empties whole chunks of the memory index.
          const lo = round % 2 ? rand(4096) : 1024;
          const hi = round % 2 ? Math.min(4096, lo + rand(1500)) : 3072;
          await db.dropRange({ gte: key(lo), lt: key(hi) });
          for (let i = lo; i < hi; i++) model.delete(i);
          const want = [...model].sort((x, y) => x - y).map((i) => key(i).toString('hex'));
          assert.deepEqual((await entries(db)).map(([k]) => k), want);
        }
      }));

    it('matches a sorted-map model on random op sequences', () =>
      withBackend(kind, async (db) => {
        const settle = fc.nat(4).map((n) => n === 0);
        const steps = fc.array(fc.record({ op: opArb, settle }), { maxLength: 40 });
        await fc.assert(
          fc.asyncProperty(steps, (st) => checkAgainstModel(db, st)),
          { numRuns: 1000 },
        );
      }));

    it('rejects operations after close', async () => {
      const dir = await tempDir();
      const db = await openBackend(kind, dir);
      await db.close();
      await assert.rejects(db.get(s('a')), /closed/);
      await assert.rejects(db.put(s('a'), s('b')), /closed/);
      await rm(dir, { recursive: true, force: true });
    });
  });
}

describe('rocksdb backend', () => {
  it('keeps data across close and reopen, including writes still queued at close', async () => {
    const dir = await tempDir();
    try {
      const db = await openBackend('rocksdb', dir, { sync: true });
      await db.put(s('durable'), s('yes'));
      void db.put(s('queued'), s('too'));
      void db.dropRange({ gte: s('x'), lt: s('y') });
      await db.close();
      const again = await openBackend('rocksdb', dir);
      assert.deepEqual(await again.getMany([s('durable'), s('queued')]), [s('yes'), s('too')]);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second open of the same directory with one clear line', async () => {
    const dir = await tempDir();
    const db = await RocksDbBackend.open(dir);
    try {
      const err = await RocksDbBackend.open(dir).then(() => assert.fail('second open succeeded'), (e: Error) => e);
      assert.match(err.message, /^cannot open RocksDB at .*: it is locked/);
      assert.ok(err.message.includes(dir) && !err.message.includes('\n'), err.message);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a directory another process holds', async () => {
    const dir = await tempDir();
    const mod = new URL('../../../node/src/backend/rocksdb.js', import.meta.url).href;
    const script = `const { RocksDbBackend } = await import(${JSON.stringify(mod)});
      const db = await RocksDbBackend.open(${JSON.stringify(dir)}); console.log('ready');
      process.stdin.on('end', () => db.close()); process.stdin.resume();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
      });
      await assert.rejects(RocksDbBackend.open(dir), (e: Error) => /^cannot open RocksDB at .*: it is locked/.test(e.message) && e.message.includes(dir));
    } finally {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((resolve) => child.on('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports an unusable path with the path in the message', async () => {
    const dir = await tempDir();
    try {
      await writeFile(join(dir, 'file'), 'not a directory');
      const bad = join(dir, 'file', 'db');
      await assert.rejects(RocksDbBackend.open(bad), (e: Error) => e.message.startsWith(`cannot open RocksDB at ${bad}: `));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('memory backend values stored as memos', () => {
  it('encodes a memo once, only when its bytes are asked for, and never one rewritten before that', async () => {
    const db = new MemoryBackend();
    const encoded: string[] = [];
    const encode = (memo: unknown): Buffer => {
      encoded.push(memo as string);
      return Buffer.from(memo as string);
    };
    const key = 'k1';
    db.putMemo(key, 'first', encode, 5);
    db.replaceMemo(db.peek(key)!, 'second', encode, 6);
    assert.equal(db.peek(key)!.memo, 'second');
    assert.deepEqual(encoded, [], 'nothing encoded while only memos were read');
    assert.equal(await db.approximateSize(), key.length + 6);
    assert.equal((await db.get(Buffer.from(key, 'latin1')))?.toString(), 'second');
    const folded: string[] = [];
    await db.fold(ALL, (_k, v) => void folded.push(v.toString()));
    assert.deepEqual(folded, ['second']);
    assert.deepEqual(encoded, ['second'], 'encoded once for the get and the fold');
    // bytes written through the Buffer API replace the memo
    await db.put(Buffer.from(key, 'latin1'), s('third'));
    assert.equal(db.peek(key)!.memo, undefined);
    assert.equal(db.peek(key)!.value.toString(), 'third');
    await db.close();
  });
});
