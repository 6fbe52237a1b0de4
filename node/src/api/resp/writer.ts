/**
 * RESP2/RESP3 reply encoding, and the per-connection queue that keeps replies
 * in request order while letting commands complete out of order.
 */

import { Buffer } from 'node:buffer';

export type Proto = 2 | 3;

export type Reply =
  | { type: 'simple'; value: string }
  /** `value` is the whole line after '-', e.g. "ERR syntax error" */
  | { type: 'error'; value: string }
  | { type: 'int'; value: number }
  | { type: 'bulk'; value: Buffer | string }
  | { type: 'null' }
  | { type: 'array'; value: Reply[] }
  | { type: 'map'; value: Array<[Reply, Reply]> }
  /** RESP3 verbatim string (INFO); a bulk in RESP2 */
  | { type: 'verbatim'; format: string; value: string };

export const R = {
  simple: (value: string): Reply => ({ type: 'simple', value }),
  error: (value: string): Reply => ({ type: 'error', value }),
  int: (value: number): Reply => ({ type: 'int', value }),
  bulk: (value: Buffer | string): Reply => ({ type: 'bulk', value }),
  array: (value: Reply[]): Reply => ({ type: 'array', value }),
  map: (value: Array<[Reply, Reply]>): Reply => ({ type: 'map', value }),
  verbatim: (value: string, format = 'txt'): Reply => ({ type: 'verbatim', format, value }),
  ok: { type: 'simple', value: 'OK' } as Reply,
  null: { type: 'null' } as Reply,
};

/** A map whose keys are strings; values are replies or plain strings/numbers. */
export function stringMap(entries: Array<[string, Reply | string | number]>): Reply {
  return R.map(entries.map(([k, v]) => [R.bulk(k), typeof v === 'string' ? R.bulk(v) : typeof v === 'number' ? R.int(v) : v]));
}

// Errors and simple strings are one line: a stray CR/LF would desync the client.
function oneLine(s: string): string {
  return /[\r\n]/.test(s) ? s.replace(/[\r\n]+/g, ' ') : s;
}

function byteLen(v: Buffer | string): number {
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

function digits(n: number): number {
  if (n >= 0 && n < 1e9 && Number.isInteger(n)) {
    let d = 1;
    while (n >= 10) {
      n = Math.floor(n / 10);
      d++;
    }
    return d;
  }
  return String(n).length;
}

/** `$<len>\r\n<value>\r\n`, the reply of every GET, written byte by byte. */
function encodeBulk(v: Buffer): Buffer {
  const n = v.length;
  const d = digits(n);
  const buf = Buffer.allocUnsafe(5 + d + n);
  buf[0] = 0x24;
  for (let i = d, x = n; i >= 1; i--, x = Math.floor(x / 10)) buf[i] = 0x30 + (x % 10);
  buf[d + 1] = 13;
  buf[d + 2] = 10;
  if (n < 64) for (let i = 0; i < n; i++) buf[d + 3 + i] = v[i]!;
  else v.copy(buf, d + 3);
  buf[d + 3 + n] = 13;
  buf[d + 4 + n] = 10;
  return buf;
}

function size(r: Reply, proto: Proto): number {
  switch (r.type) {
    case 'simple':
    case 'error':
      return 3 + Buffer.byteLength(oneLine(r.value));
    case 'int':
      return 3 + digits(r.value);
    case 'bulk': {
      const n = byteLen(r.value);
      return 5 + digits(n) + n;
    }
    case 'verbatim': {
      const n = Buffer.byteLength(r.value) + (proto === 3 ? 4 : 0);
      return 5 + digits(n) + n;
    }
    case 'null':
      return proto === 3 ? 3 : 5;
    case 'array': {
      let s = 3 + digits(r.value.length);
      for (const e of r.value) s += size(e, proto);
      return s;
    }
    case 'map': {
      let s = 3 + digits(proto === 3 ? r.value.length : r.value.length * 2);
      for (const [k, v] of r.value) s += size(k, proto) + size(v, proto);
      return s;
    }
  }
}

function put(buf: Buffer, off: number, s: string): number {
  return off + buf.write(s, off, 'utf8');
}

function write(buf: Buffer, off: number, r: Reply, proto: Proto): number {
  switch (r.type) {
    case 'simple':
      return put(buf, off, `+${oneLine(r.value)}\r\n`);
    case 'error':
      return put(buf, off, `-${oneLine(r.value)}\r\n`);
    case 'int':
      return put(buf, off, `:${r.value}\r\n`);
    case 'bulk': {
      if (typeof r.value === 'string') {
        return put(buf, off, `$${Buffer.byteLength(r.value)}\r\n${r.value}\r\n`);
      }
      off = put(buf, off, `$${r.value.length}\r\n`);
      off += r.value.copy(buf, off);
      return put(buf, off, '\r\n');
    }
    case 'verbatim':
      if (proto === 3) return put(buf, off, `=${Buffer.byteLength(r.value) + 4}\r\n${r.format.slice(0, 3)}:${r.value}\r\n`);
      return put(buf, off, `$${Buffer.byteLength(r.value)}\r\n${r.value}\r\n`);
    case 'null':
      return put(buf, off, proto === 3 ? '_\r\n' : '$-1\r\n');
    case 'array':
      off = put(buf, off, `*${r.value.length}\r\n`);
      for (const e of r.value) off = write(buf, off, e, proto);
      return off;
    case 'map':
      off = put(buf, off, proto === 3 ? `%${r.value.length}\r\n` : `*${r.value.length * 2}\r\n`);
      for (const [k, v] of r.value) {
        off = write(buf, off, k, proto);
        off = write(buf, off, v, proto);
      }
      return off;
  }
}

const OK2 = Buffer.from('+OK\r\n');
const NULL2 = Buffer.from('$-1\r\n');
const NULL3 = Buffer.from('_\r\n');

/** Encodes one reply into a single buffer (one allocation, one copy of any payload). */
export function encodeReply(r: Reply, proto: Proto = 2): Buffer {
  // The commonest replies are shared constants; they are never mutated.
  if (r === R.ok) return OK2;
  if (r.type === 'null') return proto === 3 ? NULL3 : NULL2;
  if (r.type === 'bulk' && typeof r.value !== 'string') return encodeBulk(r.value);
  const n = size(r, proto);
  const buf = Buffer.allocUnsafe(n);
  const end = write(buf, 0, r, proto);
  if (end !== n) throw new Error(`RESP encoder size mismatch (${end} != ${n})`);
  return buf;
}

/** What the queue writes to; net.Socket satisfies it. */
export interface ReplySink {
  write(data: Buffer): boolean;
  cork(): void;
  uncork(): void;
}

/** A reply position reserved in order, filled when its command completes. */
export interface ReplySlot {
  data: Buffer | null;
}

// Below this total, ready replies are concatenated into one buffer; above it
// they go out through a corked socket (writev) to avoid copying big values.
const CONCAT_LIMIT = 64 * 1024;

/**
 * Keeps replies in request order. Synchronous replies are pushed, asynchronous
 * ones reserve a slot first; flush() writes every reply whose predecessors are
 * all done, in as few socket writes as possible.
 */
export class ReplyQueue {
  private ready: Buffer[] = [];
  private readyBytes = 0;
  private waiting: ReplySlot[] = [];
  private waitingHead = 0;
  private unfilled = 0;

  constructor(private readonly sink: ReplySink) {}

  /** Replies reserved but not yet produced. */
  get pending(): number {
    return this.unfilled;
  }

  /** Nothing reserved and nothing unwritten. */
  get idle(): boolean {
    return this.waitingHead === this.waiting.length && this.ready.length === 0;
  }

  push(data: Buffer): void {
    if (this.waitingHead === this.waiting.length) this.addReady(data);
    else this.waiting.push({ data });
  }

  reserve(): ReplySlot {
    const slot: ReplySlot = { data: null };
    this.waiting.push(slot);
    this.unfilled++;
    return slot;
  }

  fill(slot: ReplySlot, data: Buffer): void {
    if (slot.data !== null) return;
    slot.data = data;
    this.unfilled--;
    while (this.waitingHead < this.waiting.length) {
      const head = this.waiting[this.waitingHead]!;
      if (head.data === null) break;
      this.addReady(head.data);
      this.waitingHead++;
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  /** Writes the ready replies; returns false when the sink asked us to wait for 'drain'. */
  flush(): boolean {
    const parts = this.ready;
    if (parts.length === 0) return true;
    const total = this.readyBytes;
    this.ready = [];
    this.readyBytes = 0;
    if (parts.length === 1) return this.sink.write(parts[0]!);
    if (total <= CONCAT_LIMIT) return this.sink.write(Buffer.concat(parts, total));
    this.sink.cork();
    let ok = true;
    for (const p of parts) ok = this.sink.write(p) && ok;
    this.sink.uncork();
    return ok;
  }

  private addReady(data: Buffer): void {
    this.ready.push(data);
    this.readyBytes += data.length;
  }
}
