/**
 * Helpers for the quorum I/O cluster tests: a three-node cluster, raw HTTP
 * object requests (status, headers, body), Prometheus metric sums, the ring's
 * owners as the nodes report them and the preference list of a key computed
 * with the same consistent hashing the nodes use.
 */
import assert from 'node:assert/strict';
import { keyHash32, partitionOfHash, replicaPartitions } from '../../node/src/ring/chash.js';
import { joinAll, startNodes, waitConverged, waitFor, type NodeOptions, type TestNode } from './helpers.js';

export const RING_SIZE = 16;
export const N_VAL = 3;

/** Three nodes (indexes first..first+2) joined into one converged cluster, ring 16. */
export async function startCluster(first: number, o: Omit<NodeOptions, 'index'> = {}): Promise<TestNode[]> {
  const nodes = await startNodes(first, 3, { ringSize: RING_SIZE, ...o });
  try {
    await joinAll(nodes[0]!, nodes.slice(1));
    await waitConverged(nodes, nodes.map((n) => n.name), { ringSize: RING_SIZE, timeoutMs: 40_000 });
    // every node must reach every other one before quorum requests are meaningful
    await waitFor('all peers reachable from every node', async (seen) => {
      for (const n of nodes) {
        const ms = await n.memberStatus();
        seen({ [n.name]: ms.members });
        if (ms.members.length !== 3 || !ms.members.every((m) => m.reachable)) return undefined;
      }
      return true;
    }, { timeoutMs: 20_000, intervalMs: 100 });
  } catch (e) {
    await Promise.all(nodes.map((n) => n.destroy()));
    throw e;
  }
  return nodes;
}

// ---- HTTP objects --------------------------------------------------------------

export interface HttpReply {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
}

export async function http(node: TestNode, method: string, path: string, o: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpReply> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: o.headers ?? {},
    ...(o.body === undefined ? {} : { body: o.body }),
    signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

export const objPath = (bucket: string, key: string, query = '') => `/buckets/${encodeURIComponent(bucket)}/keys/${encodeURIComponent(key)}${query ? `?${query}` : ''}`;

export function getObj(node: TestNode, bucket: string, key: string, query = '', headers: Record<string, string> = {}): Promise<HttpReply> {
  return http(node, 'GET', objPath(bucket, key, query), { headers });
}

export function putObj(node: TestNode, bucket: string, key: string, value: string, query = '', vclock?: string): Promise<HttpReply> {
  return http(node, 'PUT', objPath(bucket, key, query), { body: value, headers: { 'content-type': 'text/plain', ...(vclock ? { 'x-riak-vclock': vclock } : {}) } });
}

export function delObj(node: TestNode, bucket: string, key: string, query = ''): Promise<HttpReply> {
  return http(node, 'DELETE', objPath(bucket, key, query));
}

/** PUT that must succeed (204). */
export async function mustPut(node: TestNode, bucket: string, key: string, value: string, query = '', vclock?: string): Promise<HttpReply> {
  const r = await putObj(node, bucket, key, value, query, vclock);
  assert.equal(r.status, 204, `PUT ${bucket}/${key}?${query} on ${node.name}: ${r.status} ${r.text}`);
  return r;
}

export async function setProps(node: TestNode, bucket: string, props: Record<string, unknown>): Promise<void> {
  const r = await http(node, 'PUT', `/buckets/${encodeURIComponent(bucket)}/props`, { body: JSON.stringify({ props }), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 204, `PUT props ${bucket}: ${r.status} ${r.text}`);
}

/** Waits until every node reports the bucket props (they travel with the ring). */
export async function waitProps(nodes: TestNode[], bucket: string, props: Record<string, unknown>): Promise<void> {
  await waitFor(`props of ${bucket} on every node`, async (seen) => {
    for (const n of nodes) {
      const r = await http(n, 'GET', `/buckets/${encodeURIComponent(bucket)}/props`);
      const got = (JSON.parse(r.text) as { props: Record<string, unknown> }).props;
      seen({ [n.name]: got });
      if (!Object.entries(props).every(([k, v]) => got[k] === v)) return undefined;
    }
    return true;
  }, { timeoutMs: 10_000 });
}

/** The parts of a multipart/mixed body (Riak's sibling listing). */
export function parseMultipart(contentType: string | null, body: Buffer): { headers: Record<string, string>; value: string }[] {
  const m = /boundary=([^;]+)/.exec(contentType ?? '');
  assert.ok(m, `not multipart: ${contentType}`);
  const boundary = m[1]!.trim().replace(/^"|"$/g, '');
  const text = body.toString('latin1');
  const parts: { headers: Record<string, string>; value: string }[] = [];
  for (const chunk of text.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const sep = chunk.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of chunk.slice(2, sep).split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers['content-length']);
    const rest = chunk.slice(sep + 4);
    parts.push({ headers, value: Number.isFinite(len) ? rest.slice(0, len) : rest.replace(/\r\n$/, '') });
  }
  return parts;
}

// ---- metrics -----------------------------------------------------------------

export async function metricsText(node: TestNode): Promise<string> {
  const r = await http(node, 'GET', '/metrics');
  assert.equal(r.status, 200);
  return r.text;
}

/** Sum of the samples of `name` whose labels include `labels` (0 when there is none). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const lm of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[lm[1]!] = lm[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

export async function metric(node: TestNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSum(await metricsText(node), name, labels);
}

/** The same metric on several nodes, summed. */
export async function metricOn(nodes: TestNode[], name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const n of nodes) sum += await metric(n, name, labels);
  return sum;
}

// ---- ring and preference lists -------------------------------------------------

/** owners[p] for the current ring, from each (reachable) node's vnode-status primary rows. */
export async function ringOwners(nodes: TestNode[]): Promise<string[]> {
  const owners: string[] = new Array<string>(RING_SIZE);
  for (const n of nodes) {
    const s = await n.vnodeStatus();
    for (const v of s.vnodes) if (v.primary) owners[v.partition] = n.name;
  }
  for (let p = 0; p < RING_SIZE; p++) assert.ok(owners[p], `no node claims partition ${p}: ${JSON.stringify(owners)}`);
  return owners;
}

export interface Replica {
  partition: number;
  owner: string;
}

/** The n primary replicas of bucket/key: its partition and the next n-1, on their owners. */
export function primaries(owners: string[], bucket: string, key: string, n = N_VAL): Replica[] {
  const first = partitionOfHash(keyHash32(Buffer.from(bucket), Buffer.from(key)), owners.length);
  return replicaPartitions(first, owners.length, n).map((partition) => ({ partition, owner: owners[partition]! }));
}

/** `count` keys `${prefix}${i}` whose primaries satisfy `pred` (bounded search). */
export function pickKeys(owners: string[], bucket: string, prefix: string, count: number, pred: (reps: Replica[]) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 100_000; i++) {
    const key = `${prefix}${i}`;
    if (pred(primaries(owners, bucket, key))) out.push(key);
  }
  assert.equal(out.length, count, `could not find ${count} keys for ${prefix}`);
  return out;
}

/** entries per partition of one node's vnodes (from vnode-status). */
export async function entriesByPartition(node: TestNode): Promise<Map<number, { entries: number; primary: boolean }>> {
  const s = await node.vnodeStatus();
  return new Map(s.vnodes.map((v) => [v.partition, { entries: v.entries, primary: v.primary }]));
}

export async function setTransferLimit(node: TestNode, limit: number): Promise<void> {
  const r = await node.api<{ limit: number }>('PUT', '/admin/transfer-limit', { limit });
  assert.deepEqual(r, { limit });
}

/** Reap attempts a node made so far (after its deletes and after reads of a tombstone), any outcome. */
export function reapAttempts(node: TestNode): Promise<number> {
  return metric(node, 'rkv_tombstone_reaps_total');
}

/** Waits until `node` has made at least `atLeast` reap attempts (delete_mode is 3 s). */
export async function waitReapAttempts(node: TestNode, atLeast: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(`${atLeast} reap attempts on ${node.name}`, async (seen) => {
    const attempts = await reapAttempts(node);
    seen({ attempts });
    return attempts >= atLeast ? true : undefined;
  }, { timeoutMs, intervalMs: 250 });
}
