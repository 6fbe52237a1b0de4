/**
 * A Jepsen-style workload and checker for the container tier.
 *
 * While a nemesis acts, concurrent clients record every operation they
 * attempt and whether it was acknowledged:
 *
 * - write-once (RESP SET of a fresh key with a unique value, through ioredis
 *   to the nodes' mapped RESP ports, round-robin): an acknowledged write must
 *   be readable at the end;
 * - registers (RESP SET of a few keys per client, each key written by one
 *   client only, values carrying an increasing sequence number): the final
 *   value must not be older than the last acknowledged write to the key
 *   (a write that timed out or failed is indeterminate and may take effect
 *   at any time, so it may legitimately be the final value);
 * - set-add (HTTP on a bucket with allow_mult=true: GET with
 *   `Accept: multipart/mixed`, union of the siblings, add a unique element,
 *   PUT the union with the X-Riak-Vclock read; several clients on the same
 *   few keys, so concurrent writes make siblings): every acknowledged element
 *   must be in the final union of siblings.
 *
 * After the nemesis heals and the cluster settles, every key is read back
 * (write-once and sets over HTTP with r=2 and every sibling; registers with
 * RESP GET, i.e. r=quorum with the RESP last-write-wins view) and the result
 * is counted per kind: lost (acknowledged, not readable), stale (an older
 * acknowledged register value), duplicated (one write stored twice: identical
 * siblings of a write-once key, or an element twice in one stored set),
 * wrong (a value nobody wrote), and, for information, unacked writes that
 * turned out to have been applied (recovered).
 */
import { Redis } from 'ioredis';
import { http } from './http.js';

export interface Target {
  name: string;
  resp: number;
  http: number;
}

export interface WorkloadOptions {
  /** a fresh tag per run keeps keys of different scenarios apart */
  tag: string;
  /** the nodes clients talk to; read again before every operation (join/leave change it) */
  targets: () => Target[];
  respClients?: number;
  setClients?: number;
  /** per-client rate limit, operations per second */
  respRate?: number;
  setRate?: number;
  registersPerClient?: number;
  setKeys?: number;
  /** client-side timeout of one operation, ms */
  timeoutMs?: number;
}

export const SET_BUCKET = 'sets';
const HOST = '127.0.0.1';

type Outcome = 'ok' | 'fail';

interface OnceOp {
  key: string;
  value: string;
  outcome: Outcome;
}

interface RegisterWrite {
  seq: number;
  outcome: Outcome;
}

interface SetAdd {
  key: string;
  element: string;
  outcome: Outcome;
}

export interface KindResult {
  kind: string;
  attempted: number;
  acked: number;
  unacked: number;
  lost: number;
  stale: number;
  duplicated: number;
  wrong: number;
  recovered: number;
}

export interface CheckResult {
  scenario: string;
  kinds: KindResult[];
  /** client errors by kind during the load, e.g. {"timeout": 12, "ECONNREFUSED": 40} */
  errors: Record<string, number>;
  /** up to 20 examples per anomaly */
  anomalies: string[];
  ok: boolean;
  durationS: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function errorKind(e: unknown): string {
  const err = e as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  const msg = err?.message ?? '';
  if (err?.name === 'TimeoutError' || /timed? ?out/i.test(msg)) return 'timeout';
  if (/Stream isn't writeable/.test(msg)) return 'not_connected';
  if (/max retries per request|Connection is closed/.test(msg)) return 'connection_lost';
  if (err?.cause?.code) return err.cause.code;
  if (err?.code) return err.code;
  const m = /^([A-Z][A-Z_]+)\b/.exec(err?.message ?? '');
  if (m) return m[1]!;
  return (err?.message ?? String(e)).slice(0, 40);
}

// ---- HTTP objects and siblings ---------------------------------------------------------

export interface ReadResult {
  status: number;
  vclock: string | undefined;
  /** sibling values (one for 200, every part for 300, none for 404) */
  values: string[];
}

/** Splits Riak's multipart/mixed sibling body into the part bodies. */
export function parseMultipart(body: Buffer, contentType: string): string[] {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType);
  if (!m) throw new Error(`no boundary in ${contentType}`);
  const text = body.toString('utf8');
  const delim = `--${m[2]}`;
  const parts: string[] = [];
  for (const chunk of text.split(delim).slice(1)) {
    if (chunk.startsWith('--')) break;
    const sep = chunk.indexOf('\r\n\r\n');
    if (sep < 0) continue;
    const head = chunk.slice(0, sep);
    const len = /content-length:\s*(\d+)/i.exec(head);
    const rest = chunk.slice(sep + 4);
    parts.push(len ? Buffer.from(rest, 'utf8').subarray(0, Number(len[1])).toString('utf8') : rest.replace(/\r\n$/, ''));
  }
  return parts;
}

export async function httpRead(port: number, bucket: string, key: string, opts: { r?: string | number; timeoutMs?: number } = {}): Promise<ReadResult> {
  const url = `http://${HOST}:${port}/buckets/${encodeURIComponent(bucket)}/keys/${encodeURIComponent(key)}?r=${opts.r ?? 2}`;
  const res = await http(url, { headers: { accept: 'multipart/mixed, */*' }, timeoutMs: opts.timeoutMs ?? 5000 });
  const body = res.body;
  const vclock = res.headers.get('x-riak-vclock') ?? undefined;
  if (res.status === 404) return { status: 404, vclock, values: [] };
  if (res.status === 200) return { status: 200, vclock, values: [body.toString('utf8')] };
  if (res.status === 300) return { status: 300, vclock, values: parseMultipart(body, res.headers.get('content-type') ?? '') };
  throw Object.assign(new Error(`GET ${bucket}/${key} -> ${res.status} ${body.toString('utf8').slice(0, 200)}`), { code: `http_${res.status}` });
}

async function httpWrite(port: number, bucket: string, key: string, value: string, vclock: string | undefined, timeoutMs: number): Promise<void> {
  const url = `http://${HOST}:${port}/buckets/${encodeURIComponent(bucket)}/keys/${encodeURIComponent(key)}?w=2`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (vclock) headers['x-riak-vclock'] = vclock;
  const res = await http(url, { method: 'PUT', headers, body: value, timeoutMs });
  const text = res.body.toString('utf8');
  if (res.status !== 200 && res.status !== 204) throw Object.assign(new Error(`PUT ${bucket}/${key} -> ${res.status} ${text.slice(0, 200)}`), { code: `http_${res.status}` });
}

function setElements(values: string[]): { elements: Set<string>; duplicated: string[] } {
  const elements = new Set<string>();
  const duplicated: string[] = [];
  for (const v of values) {
    let arr: unknown;
    try {
      arr = JSON.parse(v);
    } catch {
      throw new Error(`set value is not JSON: ${v.slice(0, 100)}`);
    }
    if (!Array.isArray(arr)) throw new Error(`set value is not an array: ${v.slice(0, 100)}`);
    const inValue = new Set<string>();
    for (const e of arr as string[]) {
      if (inValue.has(e)) duplicated.push(e);
      inValue.add(e);
      elements.add(e);
    }
  }
  return { elements, duplicated };
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

async function retry<T>(what: string, fn: (attempt: number) => Promise<T>, attempts = 5): Promise<T> {
  let last: unknown;
  for (let a = 0; a < attempts; a++) {
    try {
      return await fn(a);
    } catch (e) {
      last = e;
      await sleep(300 * (a + 1));
    }
  }
  throw new Error(`${what}: ${(last as Error)?.message ?? String(last)}`);
}

// ---- the workload ----------------------------------------------------------------------------

export class Workload {
  private readonly once: OnceOp[] = [];
  private readonly registers = new Map<string, RegisterWrite[]>();
  private readonly adds: SetAdd[] = [];
  readonly errors: Record<string, number> = {};
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly clients: Redis[] = [];
  private startedAt = 0;
  private readonly o: Required<WorkloadOptions>;

  constructor(o: WorkloadOptions) {
    this.o = { respClients: 4, setClients: 2, respRate: 40, setRate: 12, registersPerClient: 3, setKeys: 3, timeoutMs: 4000, ...o };
  }

  get setKeys(): string[] {
    return Array.from({ length: this.o.setKeys }, (_, j) => `${this.o.tag}-set${j}`);
  }

  /** allow_mult on the set bucket, through any target. */
  async prepare(): Promise<void> {
    const t = this.o.targets()[0]!;
    await retry('set bucket props', async () => {
      const res = await http(`http://${HOST}:${t.http}/buckets/${SET_BUCKET}/props`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ props: { allow_mult: true } }),
        timeoutMs: 5000,
      });
      if (res.status !== 204 && res.status !== 200) throw new Error(`PUT props -> ${res.status}`);
    });
  }

  start(): void {
    this.running = true;
    this.startedAt = Date.now();
    for (let i = 0; i < this.o.respClients; i++) this.loops.push(this.respLoop(i));
    for (let i = 0; i < this.o.setClients; i++) this.loops.push(this.setLoop(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    for (const c of this.clients.splice(0)) c.disconnect();
  }

  /** operations so far, for progress lines */
  get counts(): { once: number; acked: number; sets: number } {
    return { once: this.once.length, acked: this.once.filter((o) => o.outcome === 'ok').length, sets: this.adds.length };
  }

  private countError(e: unknown): void {
    const k = errorKind(e);
    this.errors[k] = (this.errors[k] ?? 0) + 1;
  }

  private async pace(t0: number, rate: number): Promise<void> {
    const wait = 1000 / rate - (Date.now() - t0);
    if (wait > 0) await sleep(wait);
  }

  private redisFor(conns: Map<string, Redis>, t: Target): Redis {
    let r = conns.get(`${t.name}:${t.resp}`);
    if (!r) {
      r = new Redis({
        host: HOST,
        port: t.resp,
        enableOfflineQueue: false,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        commandTimeout: this.o.timeoutMs,
        connectTimeout: 2000,
        retryStrategy: () => 300,
        lazyConnect: false,
      });
      r.on('error', () => undefined); // connection errors are counted per command
      conns.set(`${t.name}:${t.resp}`, r);
      this.clients.push(r);
    }
    return r;
  }

  private async respLoop(client: number): Promise<void> {
    const conns = new Map<string, Redis>();
    let seq = 0;
    let turn = client;
    while (this.running) {
      const t0 = Date.now();
      const targets = this.o.targets();
      const t = targets[turn++ % targets.length]!;
      const r = this.redisFor(conns, t);
      seq++;
      // every fourth operation overwrites one of this client's registers; the rest write fresh keys
      if (seq % 4 === 0) {
        const key = `${this.o.tag}-reg-c${client}-${(seq / 4) % this.o.registersPerClient}`;
        const writes = this.registers.get(key) ?? [];
        this.registers.set(key, writes);
        const w: RegisterWrite = { seq, outcome: 'fail' };
        writes.push(w);
        try {
          const res = await r.set(key, `c${client}:${seq}`);
          if (res === 'OK') w.outcome = 'ok';
        } catch (e) {
          this.countError(e);
          await sleep(50);
        }
      } else {
        const op: OnceOp = { key: `${this.o.tag}-once-c${client}-${seq}`, value: `v-c${client}-${seq}`, outcome: 'fail' };
        this.once.push(op);
        try {
          const res = await r.set(op.key, op.value);
          if (res === 'OK') op.outcome = 'ok';
        } catch (e) {
          this.countError(e);
          await sleep(50);
        }
      }
      await this.pace(t0, this.o.respRate);
    }
  }

  private async setLoop(client: number): Promise<void> {
    let seq = 0;
    let turn = client;
    const keys = this.setKeys;
    while (this.running) {
      const t0 = Date.now();
      const targets = this.o.targets();
      const t = targets[turn++ % targets.length]!;
      const key = keys[(seq + client) % keys.length]!;
      seq++;
      try {
        const read = await httpRead(t.http, SET_BUCKET, key, { r: 2, timeoutMs: this.o.timeoutMs });
        const { elements } = setElements(read.values);
        const element = `e-c${client}-${seq}`;
        elements.add(element);
        const add: SetAdd = { key, element, outcome: 'fail' };
        this.adds.push(add);
        try {
          await httpWrite(t.http, SET_BUCKET, key, JSON.stringify([...elements].sort()), read.vclock, this.o.timeoutMs);
          add.outcome = 'ok';
        } catch (e) {
          this.countError(e);
          await sleep(50);
        }
      } catch (e) {
        this.countError(e); // the read failed: nothing was written
        await sleep(50);
      }
      await this.pace(t0, this.o.setRate);
    }
  }

  // ---- the checker ----------------------------------------------------------------------------

  /**
   * Reads everything back through `readers` (round-robin) and counts the
   * anomalies. Call after stop(), once the cluster has healed and settled.
   */
  async check(scenario: string, readers: Target[]): Promise<CheckResult> {
    const anomalies: string[] = [];
    const note = (kind: string, text: string) => {
      if (anomalies.filter((a) => a.startsWith(kind)).length < 20) anomalies.push(`${kind}: ${text}`);
    };
    const reader = (i: number) => readers[i % readers.length]!;

    // write-once keys over HTTP, every sibling, r=2
    const once: KindResult = { kind: 'write-once', attempted: this.once.length, acked: 0, unacked: 0, lost: 0, stale: 0, duplicated: 0, wrong: 0, recovered: 0 };
    await pool(this.once, 8, async (op, i) => {
      const read = await retry(`read ${op.key}`, (a) => httpRead(reader(i + a).http, 'default', op.key, { r: 2 }));
      const hits = read.values.filter((v) => v === op.value).length;
      const others = read.values.filter((v) => v !== op.value);
      if (op.outcome === 'ok') {
        once.acked++;
        if (hits === 0) {
          once.lost++;
          note('lost', `${op.key} (acknowledged ${op.value}) read ${read.status} ${JSON.stringify(read.values)} via ${reader(i).name}`);
        }
      } else {
        once.unacked++;
        if (hits > 0) once.recovered++;
      }
      if (hits > 1) {
        once.duplicated++;
        note('duplicated', `${op.key}: ${hits} siblings of ${op.value}`);
      }
      if (others.length > 0) {
        once.wrong++;
        note('wrong', `${op.key}: unexpected ${JSON.stringify(others)}`);
      }
    });

    // registers over RESP: the value a Redis client sees
    const reg: KindResult = { kind: 'register', attempted: 0, acked: 0, unacked: 0, lost: 0, stale: 0, duplicated: 0, wrong: 0, recovered: 0 };
    const regKeys = [...this.registers.keys()];
    const conns = readers.map(
      (t) => new Redis({ host: HOST, port: t.resp, maxRetriesPerRequest: 3, commandTimeout: 10_000, connectTimeout: 5000, lazyConnect: true, retryStrategy: (n) => (n > 5 ? null : 200) }),
    );
    try {
      await Promise.all(conns.map((c) => c.connect()));
      await pool(regKeys, 4, async (key, i) => {
        const writes = this.registers.get(key)!;
        reg.attempted += writes.length;
        const acked = writes.filter((w) => w.outcome === 'ok');
        reg.acked += acked.length;
        reg.unacked += writes.length - acked.length;
        const lastAcked = Math.max(0, ...acked.map((w) => w.seq));
        const value = await retry(`GET ${key}`, (a) => conns[(i + a) % conns.length]!.get(key));
        const m = value === null ? undefined : /^c\d+:(\d+)$/.exec(value);
        const seq = m ? Number(m[1]) : undefined;
        const write = writes.find((w) => w.seq === seq);
        if (value === null) {
          if (lastAcked > 0) {
            reg.lost++;
            note('lost', `register ${key}: null, last acknowledged seq ${lastAcked}`);
          }
        } else if (!write) {
          reg.wrong++;
          note('wrong', `register ${key}: ${value} was never written`);
        } else if (seq! < lastAcked && write.outcome === 'ok') {
          reg.stale++;
          note('stale', `register ${key}: read seq ${seq}, last acknowledged seq ${lastAcked}`);
        } else if (write.outcome === 'fail') {
          reg.recovered++;
        }
      });
    } finally {
      for (const c of conns) c.disconnect();
    }

    // sets over HTTP: union of siblings, r=2
    const sets: KindResult = { kind: 'set-add', attempted: this.adds.length, acked: 0, unacked: 0, lost: 0, stale: 0, duplicated: 0, wrong: 0, recovered: 0 };
    let siblings = 0;
    for (const [i, key] of this.setKeys.entries()) {
      const read = await retry(`read set ${key}`, (a) => httpRead(reader(i + a).http, SET_BUCKET, key, { r: 2 }));
      siblings = Math.max(siblings, read.values.length);
      const { elements, duplicated } = setElements(read.values);
      sets.duplicated += duplicated.length;
      for (const d of duplicated.slice(0, 5)) note('duplicated', `set ${key}: element ${d} twice in one value`);
      const written = new Set(this.adds.filter((a) => a.key === key).map((a) => a.element));
      for (const e of elements) {
        if (!written.has(e)) {
          sets.wrong++;
          note('wrong', `set ${key}: element ${e} never added`);
        }
      }
      for (const add of this.adds.filter((a) => a.key === key)) {
        if (add.outcome === 'ok') {
          sets.acked++;
          if (!elements.has(add.element)) {
            sets.lost++;
            note('lost', `set ${key}: acknowledged element ${add.element} missing (${elements.size} elements, ${read.values.length} siblings)`);
          }
        } else {
          sets.unacked++;
          if (elements.has(add.element)) sets.recovered++;
        }
      }
    }
    if (siblings > 1) anomalies.push(`info: set keys read with up to ${siblings} siblings`);

    const kinds = [once, reg, sets];
    const ok = kinds.every((k) => k.lost + k.stale + k.duplicated + k.wrong === 0);
    return { scenario, kinds, errors: { ...this.errors }, anomalies, ok, durationS: (Date.now() - this.startedAt) / 1000 };
  }
}

/** The per-scenario table printed by the tests. */
export function formatResult(r: CheckResult): string {
  const cols: (keyof KindResult)[] = ['kind', 'attempted', 'acked', 'unacked', 'lost', 'stale', 'duplicated', 'wrong', 'recovered'];
  const rows = [cols.map(String), ...r.kinds.map((k) => cols.map((c) => String(k[c])))];
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const errs = Object.entries(r.errors).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `== ${r.scenario}: ${r.ok ? 'no acknowledged write lost' : 'ANOMALIES'} (${r.durationS.toFixed(0)} s from load start)`,
    ...rows.map(line),
    `client errors during the load: ${errs || 'none'}`,
    ...r.anomalies.map((a) => `  ${a}`),
  ].join('\n');
}
