import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend } from '../../../node/src/backend/open.js';
import type { Backend } from '../../../node/src/backend/backend.js';
import { Vnode, type BKey } from '../../../node/src/vnode/vnode.js';
import { applyWrite, type Content, type RkvObject } from '../../../node/src/object/object.js';
import { encodeObject } from '../../../node/src/object/codec.js';
import { encodeStorageKey } from '../../../node/src/backend/storage_key.js';

const content = (v: string, at = 1): Content => ({ value: Buffer.from(v), contentType: 'text/plain', lastModified: at, deleted: false });
const bkey: BKey = { bucket: Buffer.from('b'), key: Buffer.from('k'), hash32: 0x12345678 };

async function withVnode(kind: 'memory' | 'rocksdb', fn: (v: Vnode, backend: Backend, reads: { getMany: number }) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rkv-vnode-'));
  const backend = await openBackend(kind, dir);
  // the real backend, with its bulk reads counted
  const reads = { getMany: 0 };
  const counted = new Proxy(backend, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (prop === 'getMany') reads.getMany++;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  try {
    await fn(new Vnode(0, 4, counted, { generation: 0, issued: 0, actorOf: (g) => (g === 0 ? 'node.0' : `node.0.${g}`) }), backend, reads);
  } finally {
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  }
}

for (const kind of ['memory', 'rocksdb'] as const) {
  describe(`vnode read-modify-write (${kind})`, () => {
    it('concurrent writes to one key lose nothing and each caller gets its own result', async () => {
      await withVnode(kind, async (v) => {
        // allow_mult: every write without a context is concurrent with the others, so all must survive as siblings
        const results = await Promise.all(Array.from({ length: 60 }, (_, i) => v.coordinatePut(bkey, content(`v${i}`), {}, false)));
        const stored = (await v.get(bkey))!;
        assert.equal(stored.clock['node.0'], 60);
        assert.equal(stored.siblings.length, 60);
        // results are the successive states: counters 1..60, each containing its own write
        const counters = results.map((r) => r.clock['node.0']).sort((a, b) => a! - b!);
        assert.deepEqual(counters, Array.from({ length: 60 }, (_, i) => i + 1));
        results.forEach((r, i) => assert.ok(r.siblings.some((s) => s.value.toString() === `v${i}`)));
      });
    });

    it('merges concurrent replica writes with coordinated ones', async () => {
      await withVnode(kind, async (v) => {
        const remote: RkvObject[] = Array.from({ length: 20 }, (_, i) => applyWrite(undefined, {}, content(`r${i}`), `other.${i}`));
        await Promise.all([...remote.map((o) => v.mergePut(bkey, o, false)), v.coordinatePut(bkey, content('local'), {}, false)]);
        const stored = (await v.get(bkey))!;
        assert.equal(stored.siblings.length, 21);
        for (let i = 0; i < 20; i++) assert.equal(stored.clock[`other.${i}`], 1);
      });
    });

    it('a refused write fails alone and the others of its cycle still land', async () => {
      await withVnode(kind, async (v) => {
        // 100 siblings are allowed, the 101st is refused
        const all = await Promise.allSettled(Array.from({ length: 105 }, (_, i) => v.coordinatePut(bkey, content(`v${i}`), {}, false)));
        assert.equal(all.filter((r) => r.status === 'fulfilled').length, 100);
        assert.equal(all.filter((r) => r.status === 'rejected').length, 5);
        assert.equal((await v.get(bkey))!.siblings.length, 100);
        // last-write-wins writes still supersede
        const lww = await v.coordinatePut(bkey, content('final', 2), undefined, true);
        assert.equal(lww.siblings.length, 1);
        assert.equal((await v.get(bkey))!.siblings[0]!.value.toString(), 'final');
      });
    });

    it('reads see every acknowledged write', async () => {
      await withVnode(kind, async (v) => {
        for (let i = 0; i < 20; i++) {
          const p = v.coordinatePut(bkey, content(`v${i}`, i + 1), undefined, true);
          await p;
          assert.equal((await v.get(bkey))!.siblings[0]!.value.toString(), `v${i}`);
        }
      });
    });

    it('isEmpty follows drops and the writes around them', async () => {
      await withVnode(kind, async (v) => {
        assert.equal(await v.isEmpty(), true);
        await v.coordinatePut(bkey, content('a'), undefined, true);
        assert.equal(await v.isEmpty(), false);
        await v.drop();
        assert.equal(await v.isEmpty(), true);
        assert.equal(await v.get(bkey), undefined);
        // a write after a drop that left the vnode empty must show again
        await v.coordinatePut(bkey, content('b'), undefined, true);
        assert.equal(await v.isEmpty(), false);
        // a write issued while a drop runs lands after it, so the vnode is not empty afterwards
        const dropped = v.drop();
        const written = v.mergePut({ ...bkey, key: Buffer.from('k2') }, applyWrite(undefined, {}, content('c'), 'other.1'), true);
        await Promise.all([dropped, written]);
        assert.equal(await v.isEmpty(), false);
        assert.equal((await v.get({ ...bkey, key: Buffer.from('k2') }))!.siblings[0]!.value.toString(), 'c');
        // an isEmpty that overlapped a write does not declare the vnode empty for later
        await v.drop();
        const [seen] = await Promise.all([v.isEmpty(), v.coordinatePut(bkey, content('d'), undefined, true)]);
        assert.equal(typeof seen, 'boolean');
        assert.equal(await v.isEmpty(), false);
      });
    });

    it('mergeMany merges a batch with what is stored and with writes racing it', async () => {
      await withVnode(kind, async (v) => {
        const keys = Array.from({ length: 50 }, (_, i) => ({ ...bkey, key: Buffer.from(`m${i}`), hash32: 1000 + i }));
        // half the keys hold a local write the incoming replicas never saw
        await Promise.all(keys.slice(0, 25).map((k, i) => v.coordinatePut(k, content(`local${i}`), {}, false)));
        const incoming = keys.map((k, i) => {
          const obj = applyWrite(undefined, {}, content(`remote${i}`), 'other.1');
          return { bkey: k, obj, raw: encodeObject(obj) };
        });
        // a coordinated write to a key of the batch, issued while the batch holds it
        const batch = v.mergeMany(incoming, () => false);
        const racing = v.coordinatePut(keys[30]!, content('racing'), {}, false);
        await Promise.all([batch, racing]);
        for (let i = 0; i < keys.length; i++) {
          const got = (await v.get(keys[i]!))!;
          const values = got.siblings.map((s) => s.value.toString()).sort();
          const want = i < 25 ? [`local${i}`, `remote${i}`] : i === 30 ? ['racing', 'remote30'] : [`remote${i}`];
          assert.deepEqual(values, want.sort(), `key m${i}`);
        }
        // a batch sent twice (a retried handoff) changes nothing
        await v.mergeMany(incoming, () => false);
        assert.equal((await v.get(keys[0]!))!.siblings.length, 2);
        assert.equal((await v.get(keys[40]!))!.siblings.length, 1);
        // under last-write-wins the newer write is kept
        await v.mergeMany([{ bkey: keys[0]!, obj: applyWrite(undefined, {}, content('newest', 99), 'other.2') }], () => true);
        assert.deepEqual((await v.get(keys[0]!))!.siblings.map((s) => s.value.toString()), ['newest']);
      });
    });

    it('mergeStored: a handoff stream into an empty vnode needs no reads, yet merges with a write that lands between batches', async () => {
      await withVnode(kind, async (v, _backend, reads) => {
        const keys = Array.from({ length: 40 }, (_, i) => ({ ...bkey, key: Buffer.from(`h${i}`), hash32: 5000 + i }));
        const stored = keys.map((k, i) => {
          const obj = applyWrite(undefined, {}, content(`old-owner${i}`), 'sender.0');
          return { sk: encodeStorageKey({ ringLog2: 4, partition: 0, ...k }), raw: encodeObject(obj) };
        });
        assert.equal(await v.isEmpty(), true);
        await v.mergeStored(stored.slice(0, 20), () => false);
        await v.mergeStored(stored.slice(20, 30), () => false);
        assert.equal(reads.getMany, 0, 'batches in key order into an empty vnode read nothing');
        // a client write to a key the stream has not reached yet
        await v.coordinatePut(keys[35]!, content('client'), {}, false);
        await v.mergeStored(stored.slice(30), () => false);
        assert.equal(reads.getMany, 1, 'after another write the next batch reads its keys');
        const got = (await v.get(keys[35]!))!;
        assert.deepEqual(got.siblings.map((x) => x.value.toString()).sort(), ['client', 'old-owner35']);
        for (const i of [0, 19, 20, 39]) assert.deepEqual((await v.get(keys[i]!))!.siblings.map((x) => x.value.toString()), [`old-owner${i}`]);
        // a retried batch merges (reads again) and changes nothing
        await v.mergeStored(stored.slice(0, 20), () => false);
        assert.equal(reads.getMany, 2);
        assert.equal((await v.get(keys[0]!))!.siblings.length, 1);
      });
    });

    it('mergeStored refuses a batch holding an entry of another vnode and stores none of it', async () => {
      await withVnode(kind, async (v) => {
        const obj = encodeObject(applyWrite(undefined, {}, content('x'), 'sender.0'));
        const ok = { sk: encodeStorageKey({ ringLog2: 4, partition: 0, ...bkey }), raw: obj };
        const foreign = { sk: encodeStorageKey({ ringLog2: 4, partition: 3, ...bkey, key: Buffer.from('other') }), raw: obj };
        await assert.rejects(v.mergeStored([ok, foreign], () => false), /entry of vnode 3\/16 sent to vnode 0\/16/);
        await assert.rejects(v.mergeStored([{ sk: Buffer.from([4, 0]), raw: obj }], () => false), /storage key too short/);
        await assert.rejects(v.mergeStored([{ ...ok, raw: Buffer.from('garbage') }], () => false));
        assert.equal(await v.get(bkey), undefined);
      });
    });
  });
}
