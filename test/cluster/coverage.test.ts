/**
 * Coverage queries with real `rkv start` processes: list keys (`rkv admin keys`,
 * `?keys=true`, `?keys=stream`), RESP DBSIZE / KEYS / SCAN (ioredis scanStream
 * and redis-cli --scan, also while keys are being added), counts with the
 * object-size summary, sampling and plan offsets, on a healthy 3-node cluster,
 * with one node down (allup and all still complete: n_val 3 leaves a replica
 * of every arc) and with two down (all refuses with a 503, allup says partial).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { coveragePlan, samplePlan } from '../../node/src/coverage/plan.js';
import { partitionOfHash } from '../../node/src/ring/chash.js';
import { HOST, joinAll, startNodes, waitConverged, waitFor, type TestNode } from './helpers.js';
import { BUCKET, hashOf, Load, redisTo, setKeys } from './resize_helpers.js';

const N = 3000;
const RING = 32;
const base = Array.from({ length: N }, (_, i) => `k${i}`);
/** values of several sizes, so the size summary has something to say */
const valueOf = (k: string) => `${k}=`.padEnd(20 + ((Number(k.slice(1)) * 37) % 200), 'x');

type KeysReply = { keys: string[]; partial?: boolean };
type CountReply = {
  count: number;
  partial: boolean;
  vnodes: number;
  sampled?: boolean;
  sampledCount?: number;
  objects: { count: number; totalBytes: number; meanBytes: number; maxBytes: number };
};

function sorted(xs: Iterable<string>): string[] {
  return [...xs].sort();
}

/** Every key of `want` exactly once and nothing else. */
function assertExactlyOnce(got: string[], want: string[], what: string): void {
  const seen = new Map<string, number>();
  for (const k of got) seen.set(k, (seen.get(k) ?? 0) + 1);
  const dups = [...seen].filter(([, c]) => c > 1).map(([k]) => k);
  assert.deepEqual(dups.slice(0, 10), [], `${what}: ${dups.length} keys listed more than once`);
  const wanted = new Set(want);
  const missing = want.filter((k) => !seen.has(k));
  const extra = got.filter((k) => !wanted.has(k));
  assert.deepEqual({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }, { missing: [], extra: [] }, `${what}: ${missing.length} missing, ${extra.length} unexpected of ${want.length}`);
}

async function getJson<T>(n: TestNode, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${n.url}${path}`, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: (await res.json()) as T };
}

/** ?keys=stream: a sequence of JSON objects {"keys":[...]} in one body. */
async function streamKeys(n: TestNode, bucket: string): Promise<{ keys: string[]; partial?: boolean; chunks: number }> {
  const res = await fetch(`${n.url}/buckets/${bucket}/keys?keys=stream`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(res.status, 200);
  const text = await res.text();
  const keys: string[] = [];
  let partial: boolean | undefined;
  let chunks = 0;
  // the objects are written back to back: split on the boundaries between them
  for (const part of text.replace(/\}\{/g, '}\n{').split('\n')) {
    const o = JSON.parse(part) as KeysReply;
    keys.push(...o.keys);
    if (o.partial !== undefined) partial = o.partial;
    chunks++;
  }
  return { keys, ...(partial === undefined ? {} : { partial }), chunks };
}

async function httpPutAll(n: TestNode, bucket: string, keys: string[], value: (k: string) => string, concurrency = 8): Promise<void> {
  const queue = [...keys];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
        const res = await fetch(`${n.url}/buckets/${bucket}/keys/${encodeURIComponent(k)}`, { method: 'PUT', body: value(k), headers: { 'content-type': 'text/plain' } });
        assert.equal(res.status, 204, `PUT ${bucket}/${k}: ${res.status}`);
      }
    }),
  );
}

async function scanAll(n: TestNode, count: number, match?: string): Promise<string[]> {
  const r = redisTo(n);
  r.on('error', () => undefined);
  await r.connect();
  try {
    const out: string[] = [];
    const stream = r.scanStream({ count, ...(match ? { match } : {}) });
    for await (const page of stream) out.push(...(page as string[]));
    return out;
  } finally {
    r.disconnect();
  }
}

function redisCli(n: TestNode, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('redis-cli', ['-h', HOST, '-p', String(n.ports.resp), ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function dbsize(n: TestNode): Promise<number> {
  const r = redisTo(n);
  r.on('error', () => undefined);
  await r.connect();
  try {
    return await r.dbsize();
  } finally {
    r.disconnect();
  }
}

function sizeSummary(keys: string[], value: (k: string) => string): CountReply['objects'] {
  const sizes = keys.map((k) => Buffer.byteLength(value(k)));
  const total = sizes.reduce((a, b) => a + b, 0);
  return { count: keys.length, totalBytes: total, meanBytes: Math.round(total / keys.length), maxBytes: Math.max(...sizes) };
}

describe('coverage queries on three nodes', { timeout: 180_000 }, () => {
  let nodes: TestNode[] = [];
  let n1: TestNode, n2: TestNode, n3: TestNode;
  /** every key of the default bucket */
  const all: string[] = [...base];
  const value = new Map<string, string>();
  const valueOfKey = (k: string) => value.get(k) ?? valueOf(k);
  const other = Array.from({ length: 300 }, (_, i) => `o${i}`);
  const single = Array.from({ length: 600 }, (_, i) => `s${i}`);
  /** partition -> owner */
  const owners = new Map<number, string>();

  before(async () => {
    nodes = await startNodes(1, 3, { ringSize: RING });
    [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    await joinAll(n1, [n2, n3]);
    await waitConverged(nodes, nodes.map((n) => n.name), { ringSize: RING });
    await fetch(`${n1.url}/buckets/single/props`, { method: 'PUT', body: JSON.stringify({ props: { n_val: 1 } }), headers: { 'content-type': 'application/json' } });
    await Promise.all([
      setKeys(n1, base.slice(0, 1000), valueOf),
      setKeys(n2, base.slice(1000, 2000), valueOf),
      setKeys(n3, base.slice(2000), valueOf),
      httpPutAll(n2, 'other', other, (k) => `other-${k}`),
    ]);
    // n_val 1 is ring data: wait until every node applies it before writing the bucket
    await waitFor('n_val 1 on every node', async () => {
      for (const n of nodes) if ((await getJson<{ props: { n_val: number } }>(n, '/buckets/single/props')).body.props.n_val !== 1) return undefined;
      return true;
    });
    await httpPutAll(n3, 'single', single, (k) => `single-${k}`);
    for (const n of nodes) for (const v of (await n.vnodeStatus()).vnodes) if (v.primary) owners.set(v.partition, n.name);
    assert.equal(owners.size, RING);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('rkv admin keys, ?keys=true and ?keys=stream list every key exactly once, from every node, bucket by bucket', async () => {
    for (const n of nodes) {
      const cli = await n.cli<KeysReply>('keys', BUCKET);
      assert.equal(cli.partial, false);
      assertExactlyOnce(cli.keys, all, `rkv admin keys on ${n.name}`);
      const http = await getJson<KeysReply>(n, `/buckets/${BUCKET}/keys?keys=true`);
      assert.equal(http.status, 200);
      assertExactlyOnce(http.body.keys, all, `?keys=true on ${n.name}`);
      const stream = await streamKeys(n, BUCKET);
      assertExactlyOnce(stream.keys, all, `?keys=stream on ${n.name}`);
      assert.ok(stream.chunks >= 3, `streamed in ${stream.chunks} chunks`);
    }
    assertExactlyOnce((await n1.cli<KeysReply>('keys', 'other')).keys, other, 'bucket other');
    assertExactlyOnce((await getJson<KeysReply>(n2, '/buckets/single/keys?keys=true')).body.keys, single, 'bucket single (n_val 1)');
    assert.deepEqual((await getJson<KeysReply>(n3, '/buckets/nothing-here/keys?keys=true')).body, { keys: [], partial: false });
    // every plan offset gives the same complete answer
    for (const offset of [0, 1, 5, 31, 1000]) {
      const r = await getJson<KeysReply>(n1, `/admin/keys/${BUCKET}?offset=${offset}&selector=all`);
      assert.equal(r.status, 200);
      assertExactlyOnce(r.body.keys, all, `offset ${offset}`);
    }
    // bad query options are refused
    assert.equal((await fetch(`${n1.url}/buckets/${BUCKET}/keys`)).status, 400);
    assert.equal((await fetch(`${n1.url}/admin/keys/${BUCKET}?selector=some`)).status, 400);
    assert.equal((await fetch(`${n1.url}/admin/count/${BUCKET}?sample=2`)).status, 400);
    assert.equal((await fetch(`${n1.url}/admin/count/${BUCKET}?offset=-1`)).status, 400);
  });

  it('DBSIZE is the number of keys from any node; KEYS pattern matches exactly', async () => {
    for (const n of nodes) assert.equal(await dbsize(n), N, `DBSIZE on ${n.name}`);
    const r = redisTo(n2);
    r.on('error', () => undefined);
    await r.connect();
    try {
      assertExactlyOnce(await r.keys('*'), all, 'KEYS *');
      assertExactlyOnce(await r.keys('k1?'), all.filter((k) => /^k1.$/.test(k)), 'KEYS k1?');
      assertExactlyOnce(await r.keys('k2[05]*'), all.filter((k) => /^k2[05]/.test(k)), 'KEYS k2[05]*');
      assert.deepEqual(await r.keys('nomatch*'), []);
    } finally {
      r.disconnect();
    }
  });

  it('SCAN (ioredis scanStream, redis-cli --scan) returns every key; a cursor stays valid', async () => {
    for (const count of [10, 250, 5000]) {
      const got = await scanAll(n1, count);
      assert.deepEqual(sorted(new Set(got)), sorted(all), `scanStream COUNT ${count}`);
    }
    assert.deepEqual(sorted(new Set(await scanAll(n3, 100, 'k7*'))), sorted(all.filter((k) => k.startsWith('k7'))), 'scanStream MATCH k7*');
    const cli = await redisCli(n2, ['--scan']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(sorted(new Set(cli.stdout.trim().split('\n'))), sorted(all), 'redis-cli --scan');
    const pat = await redisCli(n3, ['--scan', '--pattern', 'k12*']);
    assert.deepEqual(sorted(new Set(pat.stdout.trim().split('\n'))), sorted(all.filter((k) => k.startsWith('k12'))), 'redis-cli --scan --pattern');

    // a cursor is a point on the ring: continuing a scan on another node picks up where it stopped
    const a = redisTo(n1);
    const b = redisTo(n2);
    for (const c of [a, b]) {
      c.on('error', () => undefined);
      await c.connect();
    }
    try {
      const got: string[] = [];
      let cursor = '0';
      let calls = 0;
      do {
        const [next, page] = await (calls % 2 === 0 ? a : b).scan(cursor, 'COUNT', 200);
        got.push(...page);
        cursor = next;
        calls++;
      } while (cursor !== '0' && calls < 10_000);
      assert.ok(calls > 5, `${calls} SCAN calls`);
      assert.deepEqual(sorted(new Set(got)), sorted(all));
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('SCAN while keys are being added returns every key present for the whole scan', async () => {
    const load = new Load({ prefix: 'c', targets: () => nodes, maxKeys: 5000, paceMs: 2, readers: 0 }).start();
    let got: string[];
    try {
      await load.waitForWrites(50);
      const before = new Set([...all, ...load.acked]);
      const ackedBefore = load.count;
      // small pages: a few hundred SCAN calls, with writes landing all along
      got = await scanAll(n2, 10);
      assert.ok(load.count - ackedBefore >= 50, `only ${load.count - ackedBefore} writes during the scan`);
      const present = [...before];
      const seen = new Set(got);
      const missing = present.filter((k) => !seen.has(k));
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${present.length} keys present for the whole scan not returned`);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.writeErrors, []);
    for (const k of load.acked) value.set(k, `val-${k}`);
    const known = new Set([...all, ...load.acked]);
    const unknown = got.filter((k) => !known.has(k));
    assert.deepEqual(unknown, [], 'SCAN returned keys nobody wrote');
    all.push(...load.acked);
    // the new keys are listed too, once
    assertExactlyOnce((await n3.cli<KeysReply>('keys', BUCKET)).keys, all, 'keys after the concurrent writes');
    assert.equal(await dbsize(n1), all.length);
  });

  it('count: exact count and object-size summary; sample=0.25 gives the scaled estimate of the sampled arcs', async () => {
    const want = sizeSummary(all, valueOfKey);
    const cli = await n2.cli<CountReply>('count', BUCKET);
    assert.deepEqual({ count: cli.count, partial: cli.partial, objects: cli.objects }, { count: all.length, partial: false, objects: want });
    assert.ok(cli.vnodes >= RING / 3 && cli.vnodes <= RING, `${cli.vnodes} vnodes asked`);
    assert.equal(cli.sampled, undefined);
    const otherCount = (await getJson<CountReply>(n1, '/admin/count/other')).body;
    assert.deepEqual(otherCount.objects, sizeSummary(other, (k) => `other-${k}`));

    // the sampled plan is the pure plan's: recompute it and count the keys of its arcs
    const ownerList = Array.from({ length: RING }, (_, p) => owners.get(p)!);
    for (const offset of [0, 7]) {
      const plan = coveragePlan({ ringSize: RING, owners: ownerList, up: new Set(nodes.map((n) => n.name)), nval: 3, offset });
      const { vnodes, coveredFraction } = samplePlan(plan, RING, 0.25);
      const arcs = new Set(vnodes.flatMap((v) => v.arcs));
      const inSample = all.filter((k) => arcs.has(partitionOfHash(hashOf(k), RING)));
      const s = (await getJson<CountReply>(n3, `/admin/count/${BUCKET}?sample=0.25&offset=${offset}`)).body;
      assert.equal(s.sampled, true);
      assert.equal(s.vnodes, vnodes.length);
      assert.equal(s.sampledCount, inSample.length);
      assert.equal(s.objects.count, inSample.length);
      assert.equal(s.count, Math.round(inSample.length / coveredFraction));
      assert.ok(Math.abs(s.count - all.length) / all.length < 0.2, `estimate ${s.count} for ${all.length} keys (offset ${offset})`);
      assert.ok(s.vnodes < plan.vnodes.length, `sampled ${s.vnodes} of ${plan.vnodes.length} vnodes`);
    }
  });

  it('one node of three down: allup and all both list every key exactly once; DBSIZE, SCAN and count still exact', async () => {
    await n3.stop();
    for (const n of [n1, n2]) {
      await waitFor(`${n.name} to see ${n3.name} down`, async () => ((await n.memberStatus()).members.find((m) => m.name === n3.name)?.reachable === false ? true : undefined));
    }
    for (const n of [n1, n2]) {
      const allup = (await getJson<KeysReply>(n, `/admin/keys/${BUCKET}?selector=allup`)).body;
      assert.equal(allup.partial, false, 'every arc still has a reachable replica');
      assertExactlyOnce(allup.keys, all, `allup with ${n3.name} down, from ${n.name}`);
      const strict = await getJson<KeysReply>(n, `/admin/keys/${BUCKET}?selector=all`);
      assert.equal(strict.status, 200);
      assertExactlyOnce(strict.body.keys, all, `selector=all with ${n3.name} down`);
      assertExactlyOnce((await n.cli<KeysReply>('keys', BUCKET)).keys, all, 'rkv admin keys');
      assertExactlyOnce((await getJson<KeysReply>(n, `/buckets/${BUCKET}/keys?keys=true`)).body.keys, all, '?keys=true');
      assertExactlyOnce((await streamKeys(n, BUCKET)).keys, all, '?keys=stream');
      assert.equal(await dbsize(n), all.length, `DBSIZE on ${n.name}`);
      assert.deepEqual(sorted(new Set(await scanAll(n, 300))), sorted(all), `SCAN on ${n.name}`);
      const c = (await getJson<CountReply>(n, `/admin/count/${BUCKET}`)).body;
      assert.deepEqual([c.count, c.partial], [all.length, false]);
    }
  });

  it('two nodes of three down: selector=all fails with a clear 503, allup answers what it can and says partial', async () => {
    await n2.stop();
    await waitFor(`${n1.name} to see ${n2.name} down`, async () => ((await n1.memberStatus()).members.find((m) => m.name === n2.name)?.reachable === false ? true : undefined));

    // bucket single has n_val 1: only the arcs n1 owns are reachable
    const mine = single.filter((k) => owners.get(partitionOfHash(hashOf(k, Buffer.from('single')), RING)) === n1.name);
    assert.ok(mine.length > 0 && mine.length < single.length);
    const strict = await getJson<{ error: string; message: string }>(n1, '/admin/keys/single?selector=all');
    assert.equal(strict.status, 503);
    assert.equal(strict.body.error, 'unavailable');
    assert.match(strict.body.message, /coverage query needs every partition, but \d+ of 32 have no reachable replica/);
    const strictCount = await getJson<{ error: string }>(n1, '/admin/count/single?selector=all');
    assert.equal(strictCount.status, 503);
    const partial = (await getJson<KeysReply>(n1, '/admin/keys/single?selector=allup')).body;
    assert.equal(partial.partial, true);
    assertExactlyOnce(partial.keys, mine, 'allup listing of the reachable arcs');
    const cnt = (await getJson<CountReply>(n1, '/admin/count/single')).body;
    assert.deepEqual([cnt.count, cnt.partial], [mine.length, true]);
    const listed = (await getJson<KeysReply>(n1, '/buckets/single/keys?keys=true')).body;
    assert.equal(listed.partial, true);
    assertExactlyOnce(listed.keys, mine, '?keys=true with two nodes down');

    // the default bucket (n_val 3): complete exactly when n1 holds a replica of every arc
    const covered = new Set<number>();
    for (const [p, o] of owners) if (o === n1.name) for (let i = 0; i < 3; i++) covered.add((p - i + RING) % RING);
    const res = await getJson<KeysReply & { error?: string }>(n1, `/admin/keys/${BUCKET}?selector=all`);
    console.log(`# two down: n1 covers ${covered.size} of ${RING} arcs of the default bucket; DBSIZE ${await dbsize(n1).catch((e: Error) => e.message)}`);
    if (covered.size === RING) {
      assert.equal(res.status, 200);
      assertExactlyOnce(res.body.keys, all, 'n1 alone covers every arc');
    } else {
      assert.equal(res.status, 503);
      const up = (await getJson<KeysReply>(n1, `/admin/keys/${BUCKET}`)).body;
      assert.equal(up.partial, true);
      assertExactlyOnce(up.keys, all.filter((k) => covered.has(partitionOfHash(hashOf(k), RING))), 'allup with two down');
    }
  });
});
