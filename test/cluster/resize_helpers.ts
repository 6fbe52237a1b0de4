/**
 * Helpers for the resize, repair and coverage cluster tests (beside helpers.ts,
 * which another suite owns): a bounded background load that records every
 * acknowledged write, exact placement checks computed from the key hashes, and
 * offline inspection of a stopped node's RocksDB.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RocksDbBackend } from '../../node/src/backend/rocksdb.js';
import { decodeStorageKey, vnodeRange } from '../../node/src/backend/storage_key.js';
import { keyHash32, log2RingSize, partitionOfHash, replicaPartitions } from '../../node/src/ring/chash.js';
import { HOST, waitFor, type TestNode } from './helpers.js';

export const BUCKET = 'default';

export interface RingStatus {
  claimant: string;
  ringReady: boolean;
  ringSize: number;
  pendingOwnershipTransfers: number;
  unreachable: string[];
  staged: { action: string; node: string; size?: number }[];
  version: number;
  resize?: { to: number; pendingPartitions: number };
}

export function ringStatus(n: TestNode): Promise<RingStatus> {
  return n.api<RingStatus>('GET', '/admin/ring-status');
}

export function redisTo(n: TestNode): Redis {
  return new Redis({ host: HOST, port: n.ports.resp, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 5000, commandTimeout: 15_000 });
}

// ---- background load ----------------------------------------------------------

export interface LoadOptions {
  /** key prefix; keys are `${prefix}${i}` */
  prefix: string;
  /** nodes to send to (re-read for every operation, so a phase can change them) */
  targets: () => TestNode[];
  /** hard cap on writes, so a stuck test cannot load forever */
  maxKeys: number;
  /** concurrent RESP writers (SET, the default bucket's W = quorum = 2 of n_val 3) */
  respWriters?: number;
  /** concurrent HTTP writers (PUT ?w=2) */
  httpWriters?: number;
  /** concurrent readers of already acknowledged keys */
  readers?: number;
  /** pause between a worker's operations, ms: keeps the load steady and the 2-core box usable */
  paceMs?: number;
}

export const loadValue = (key: string) => `val-${key}`;

/**
 * A steady write load of unique keys. Every key whose write was acknowledged
 * is recorded; every failed write is recorded with its error (it was never
 * acknowledged). Readers read back acknowledged keys and record wrong answers.
 */
export class Load {
  readonly acked: string[] = [];
  readonly writeErrors: { key: string; error: string }[] = [];
  readonly readErrors: { key: string; error: string }[] = [];
  reads = 0;
  private next = 0;
  private stopped = false;
  private workers: Promise<void>[] = [];
  private readonly conns = new Map<string, Promise<Redis>>();

  constructor(readonly o: LoadOptions) {}

  start(): this {
    const w = (fn: () => Promise<void>) => this.workers.push(fn());
    for (let i = 0; i < (this.o.respWriters ?? 2); i++) w(() => this.writer('resp', i));
    for (let i = 0; i < (this.o.httpWriters ?? 1); i++) w(() => this.writer('http', i));
    for (let i = 0; i < (this.o.readers ?? 1); i++) w(() => this.reader(i));
    return this;
  }

  /** Number of writes acknowledged so far. */
  get count(): number {
    return this.acked.length;
  }

  async stop(): Promise<this> {
    this.stopped = true;
    await Promise.all(this.workers);
    for (const c of this.conns.values()) (await c.catch(() => undefined))?.disconnect();
    this.conns.clear();
    return this;
  }

  /** Waits until at least `n` more writes have been acknowledged (bounded). */
  async waitForWrites(n: number, timeoutMs = 30_000): Promise<void> {
    const target = this.acked.length + n;
    await waitFor(`${n} more acknowledged writes (${this.o.prefix})`, async (seen) => {
      seen({ acked: this.acked.length, writeErrors: this.writeErrors.slice(-3) });
      return this.acked.length >= target || this.next >= this.o.maxKeys ? true : undefined;
    }, { timeoutMs, intervalMs: 50 });
  }

  summary(): string {
    return `${this.o.prefix}: ${this.acked.length} acknowledged, ${this.writeErrors.length} write errors, ${this.reads} reads, ${this.readErrors.length} read errors`;
  }

  private pick(i: number): TestNode | undefined {
    const t = this.o.targets();
    return t.length === 0 ? undefined : t[(i + this.next) % t.length];
  }

  private async conn(n: TestNode): Promise<Redis> {
    let c = this.conns.get(n.name);
    if (c) {
      const r = await c.catch(() => undefined);
      if (r && r.status === 'ready') return r;
      // the one worker that sees the dead connection first replaces it; the others wait for the new one
      if (this.conns.get(n.name) !== c) return this.conn(n);
      r?.disconnect();
    }
    const r = redisTo(n);
    r.on('error', () => undefined);
    c = r.connect().then(() => r);
    this.conns.set(n.name, c);
    return c;
  }

  private async pace(): Promise<void> {
    if (this.o.paceMs) await new Promise((r) => setTimeout(r, this.o.paceMs));
  }

  private async writer(kind: 'resp' | 'http', i: number): Promise<void> {
    while (!this.stopped && this.next < this.o.maxKeys) {
      const key = `${this.o.prefix}${this.next++}`;
      const n = this.pick(i);
      if (!n) {
        await this.pace();
        continue;
      }
      try {
        if (kind === 'resp') {
          const r = await (await this.conn(n)).set(key, loadValue(key));
          if (r !== 'OK') throw new Error(`SET answered ${String(r)}`);
        } else {
          const res = await fetch(`${n.url}/buckets/${BUCKET}/keys/${encodeURIComponent(key)}?w=2`, { method: 'PUT', body: loadValue(key), headers: { 'content-type': 'text/plain' }, signal: AbortSignal.timeout(15_000) });
          if (res.status !== 204) throw new Error(`PUT answered ${res.status} ${await res.text()}`);
        }
        this.acked.push(key);
      } catch (e) {
        this.writeErrors.push({ key, error: `${kind} via ${n.name}: ${(e as Error).message}` });
      }
      await this.pace();
    }
  }

  private async reader(i: number): Promise<void> {
    let x = i * 7919;
    while (!this.stopped) {
      const n = this.pick(i + 1);
      if (!n || this.acked.length === 0) {
        await this.pace();
        continue;
      }
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const key = this.acked[x % this.acked.length]!;
      try {
        const v = await (await this.conn(n)).get(key);
        this.reads++;
        if (v !== loadValue(key)) this.readErrors.push({ key, error: `GET via ${n.name} answered ${JSON.stringify(v)}` });
      } catch (e) {
        this.readErrors.push({ key, error: `GET via ${n.name}: ${(e as Error).message}` });
      }
      await this.pace();
    }
  }
}

// ---- reading keys back ------------------------------------------------------------

/** Keys of `keys` that `node` does not return with `value(key)`, read with MGET in chunks. */
export async function unreadable(node: TestNode, keys: string[], value: (k: string) => string = loadValue, chunk = 200): Promise<string[]> {
  const r = redisTo(node);
  r.on('error', () => undefined);
  const bad: string[] = [];
  try {
    await r.connect();
    for (let i = 0; i < keys.length; i += chunk) {
      const part = keys.slice(i, i + chunk);
      const vals = await r.mget(...part);
      part.forEach((k, j) => {
        if (vals[j] !== value(k)) bad.push(k);
      });
    }
  } finally {
    r.disconnect();
  }
  return bad;
}

/** Every key readable with its value from every node. */
export async function assertReadableEverywhere(nodes: TestNode[], keys: string[], value: (k: string) => string = loadValue): Promise<void> {
  for (const n of nodes) {
    const bad = await unreadable(n, keys, value);
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${keys.length} acknowledged keys not readable from ${n.name}`);
  }
}

/** Pipelined SETs of `keys` through one connection. */
export async function setKeys(node: TestNode, keys: string[], value: (k: string) => string = loadValue, chunk = 500): Promise<void> {
  const r = redisTo(node);
  r.on('error', () => undefined);
  try {
    await r.connect();
    for (let i = 0; i < keys.length; i += chunk) {
      const p = r.pipeline();
      for (const k of keys.slice(i, i + chunk)) p.set(k, value(k));
      const res = await p.exec();
      for (const [err] of res ?? []) if (err) throw err;
    }
  } finally {
    r.disconnect();
  }
}

// ---- placement ---------------------------------------------------------------------

const BUCKET_BUF = Buffer.from(BUCKET);

export function hashOf(key: string, bucket = BUCKET_BUF): number {
  return keyHash32(bucket, Buffer.from(key));
}

/** For each partition of a `ringSize` ring, how many of `keys` it must hold (n_val replicas each). */
export function expectedEntries(keys: string[], ringSize: number, nval = 3): number[] {
  const out = new Array<number>(ringSize).fill(0);
  for (const k of keys) for (const p of replicaPartitions(partitionOfHash(hashOf(k), ringSize), ringSize, nval)) out[p]!++;
  return out;
}

/** The keys whose replicas partition `p` of a `ringSize` ring holds. */
export function keysOfPartition(keys: string[], p: number, ringSize: number, nval = 3): string[] {
  return keys.filter((k) => replicaPartitions(partitionOfHash(hashOf(k), ringSize), ringSize, nval).includes(p));
}

/**
 * Waits until, on every node, the vnodes of the current ring that hold data are
 * exactly its primaries, each with exactly the entries the key hashes put there
 * (so every key is in each of its n_val partitions once, and nowhere else).
 */
export async function waitExactPlacement(nodes: TestNode[], keys: string[], ringSize: number, timeoutMs = 30_000): Promise<void> {
  const want = expectedEntries(keys, ringSize);
  await waitFor(`exact placement of ${keys.length} keys on a ${ringSize}-partition ring`, async (seen) => {
    const problems: string[] = [];
    let total = 0;
    const owned = new Set<number>();
    for (const n of nodes) {
      const rs = await ringStatus(n);
      if (rs.ringSize !== ringSize || rs.resize) problems.push(`${n.name}: ring size ${rs.ringSize}${rs.resize ? `, resizing to ${rs.resize.to}` : ''}`);
      const s = await n.vnodeStatus();
      for (const v of s.vnodes) {
        total += v.entries;
        if (v.primary) owned.add(v.partition);
        if (v.entries > 0 && !v.primary) problems.push(`${n.name} holds ${v.entries} entries in partition ${v.partition}, owned by ${v.owner}`);
        if (v.primary && v.entries !== want[v.partition]) problems.push(`${n.name} partition ${v.partition}: ${v.entries} entries, want ${want[v.partition]}`);
      }
    }
    if (owned.size !== ringSize) problems.push(`only ${owned.size} of ${ringSize} partitions have a primary among the nodes`);
    if (total !== keys.length * 3) problems.push(`total entries ${total}, want ${keys.length} keys x 3 = ${keys.length * 3}`);
    seen(problems.slice(0, 12));
    return problems.length === 0 ? true : undefined;
  }, { timeoutMs, intervalMs: 300 });
}

// ---- offline RocksDB inspection -------------------------------------------------------

export interface StoredEntry {
  ringSize: number;
  partition: number;
  hash32: number;
  bucket: string;
  key: string;
}

/** Every entry of a stopped node's RocksDB. */
export async function readStore(node: TestNode): Promise<StoredEntry[]> {
  assert.ok(!node.running, `${node.name} must be stopped to open its RocksDB`);
  const db = await RocksDbBackend.open(path.join(node.dataDir, 'rocksdb'));
  const out: StoredEntry[] = [];
  try {
    await db.fold({ gte: Buffer.from([0]), lt: Buffer.from([0xff]) }, (k) => {
      const sk = decodeStorageKey(k);
      out.push({ ringSize: 2 ** sk.ringLog2, partition: sk.partition, hash32: sk.hash32, bucket: sk.bucket.toString(), key: sk.key.toString() });
    }, { keysOnly: true });
  } finally {
    await db.close();
  }
  return out;
}

/** Deletes one vnode's whole range in a stopped node's RocksDB; returns the keys it held. */
export async function wipePartition(node: TestNode, ringSize: number, partition: number): Promise<string[]> {
  assert.ok(!node.running, `${node.name} must be stopped to open its RocksDB`);
  const db = await RocksDbBackend.open(path.join(node.dataDir, 'rocksdb'));
  const keys: string[] = [];
  try {
    const range = vnodeRange(log2RingSize(ringSize), partition);
    await db.fold(range, (k) => void keys.push(decodeStorageKey(k).key.toString()), { keysOnly: true });
    await db.dropRange(range);
    assert.equal(await db.isEmpty(range), true, 'range empty after dropRange');
  } finally {
    await db.close();
  }
  return keys;
}

// ---- metrics -------------------------------------------------------------------------------

/** The value of one Prometheus sample, e.g. rkv_handoffs_total{type="repair",outcome="ok"}; 0 when absent. */
export async function metricValue(n: TestNode, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[2]);
  }
  return 0;
}
