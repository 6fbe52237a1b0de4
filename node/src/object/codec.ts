import { Buffer } from 'node:buffer';
import { Packr } from 'msgpackr';
import type { RkvObject, Sibling } from './object.js';
import { sortClock, type VClock } from './vclock.js';

/**
 * Wire and disk encoding of objects and contexts. Versioned by a leading byte
 * so the format can evolve without a migration of existing data.
 */
const FORMAT_V1 = 1;
const packr = new Packr({ useRecords: false, moreTypes: false });

type WireSibling = [actor: string, counter: number, value: Buffer, contentType: string, lastModified: number, deleted: 0 | 1, expiresAt: number];
type WireObject = [version: number, clock: [string, number][], siblings: WireSibling[]];

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

export function encodeObject(obj: RkvObject): Buffer {
  return encodeFast(obj) ?? encodeGeneric(obj);
}

function encodeGeneric(obj: RkvObject): Buffer {
  const wire: WireObject = [
    FORMAT_V1,
    Object.entries(obj.clock),
    obj.siblings.map((s) => [s.dot[0], s.dot[1], s.value, s.contentType, s.lastModified, s.deleted ? 1 : 0, s.expiresAt ?? 0]),
  ];
  return packr.pack(wire);
}

export function decodeObject(buf: Buffer): RkvObject {
  return decodeFast(buf) ?? decodeGeneric(buf);
}

function decodeGeneric(buf: Buffer): RkvObject {
  let wire: unknown;
  try {
    wire = packr.unpack(buf);
  } catch (e) {
    throw new CodecError(`undecodable object: ${(e as Error).message}`);
  }
  if (!Array.isArray(wire) || wire[0] !== FORMAT_V1 || !Array.isArray(wire[1]) || !Array.isArray(wire[2])) {
    throw new CodecError('undecodable object: unknown format');
  }
  const clock: Record<string, number> = {};
  for (const [actor, n] of wire[1] as [string, number][]) clock[actor] = n;
  const siblings: Sibling[] = (wire[2] as WireSibling[]).map((w) => {
    const s: Sibling = {
      dot: [w[0], w[1]],
      value: Buffer.isBuffer(w[2]) ? w[2] : Buffer.from(w[2] as Uint8Array),
      contentType: w[3],
      lastModified: w[4],
      deleted: w[5] === 1,
    };
    if (w[6]) s.expiresAt = w[6];
    return s;
  });
  return { clock: sortClock(clock), siblings };
}

/*
 * The fast path: the same msgpack bytes msgpackr writes for a WireObject
 * (fixarray/array16/array32, fixstr/str8/str16, the smallest uint for 32-bit
 * unsigned integers and float64 for any other number, bin8/16/32), written
 * and read directly instead of through an intermediate array tree. It covers
 * objects whose strings are ASCII, which every object rkv writes is (actors
 * are node incarnations, content types come from HTTP headers or RESP); for
 * anything else it declines and the msgpackr path above does the work, so
 * the stored format is exactly the msgpackr one either way.
 */

function arrayHeaderSize(n: number): number {
  return n < 0x10 ? 1 : n < 0x10000 ? 3 : 5;
}

function strSize(s: string): number {
  const n = s.length;
  return n < 0x20 ? 1 + n : n < 0x100 ? 2 + n : n < 0x10000 ? 3 + n : 5 + n;
}

function numSize(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  return 9;
}

function binSize(n: number): number {
  return n < 0x100 ? 2 + n : n < 0x10000 ? 3 + n : 5 + n;
}

function writeArrayHeader(out: Buffer, pos: number, n: number): number {
  if (n < 0x10) {
    out[pos] = 0x90 | n;
    return pos + 1;
  }
  if (n < 0x10000) {
    out[pos] = 0xdc;
    out.writeUInt16BE(n, pos + 1);
    return pos + 3;
  }
  out[pos] = 0xdd;
  out.writeUInt32BE(n, pos + 1);
  return pos + 5;
}

/** Writes an ASCII string; -1 when it is not ASCII (the caller then declines). */
function writeStr(out: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n < 0x20) out[pos++] = 0xa0 | n;
  else if (n < 0x100) {
    out[pos++] = 0xd9;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xda;
    out.writeUInt16BE(n, pos);
    pos += 2;
  } else {
    out[pos++] = 0xdb;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    out[pos + i] = c;
  }
  return pos + n;
}

function writeNum(out: Buffer, pos: number, v: number): number {
  if (v >>> 0 === v) {
    if (v < 0x80) {
      out[pos] = v;
      return pos + 1;
    }
    if (v < 0x100) {
      out[pos] = 0xcc;
      out[pos + 1] = v;
      return pos + 2;
    }
    if (v < 0x10000) {
      out[pos] = 0xcd;
      out.writeUInt16BE(v, pos + 1);
      return pos + 3;
    }
    out[pos] = 0xce;
    out.writeUInt32BE(v, pos + 1);
    return pos + 5;
  }
  if (v >> 0 === v) {
    if (v >= -0x20) {
      out[pos] = 0x100 + v;
      return pos + 1;
    }
    if (v >= -0x80) {
      out[pos] = 0xd0;
      out[pos + 1] = v + 0x100;
      return pos + 2;
    }
    if (v >= -0x8000) {
      out[pos] = 0xd1;
      out.writeInt16BE(v, pos + 1);
      return pos + 3;
    }
    out[pos] = 0xd2;
    out.writeInt32BE(v, pos + 1);
    return pos + 5;
  }
  out[pos] = 0xcb;
  out.writeDoubleBE(v, pos + 1);
  return pos + 9;
}

function writeBin(out: Buffer, pos: number, b: Uint8Array): number {
  const n = b.length;
  if (n < 0x100) {
    out[pos++] = 0xc4;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xc5;
    out.writeUInt16BE(n, pos);
    pos += 2;
  } else {
    out[pos++] = 0xc6;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
  out.set(b, pos);
  return pos + n;
}

function encodeFast(obj: RkvObject): Buffer | undefined {
  const clock = obj.clock;
  const actors = Object.keys(clock);
  const sibs = obj.siblings;
  // Sized as if every string were ASCII (one byte a character); writeStr() declines on any other.
  let size = 1 + 1 + arrayHeaderSize(actors.length) + arrayHeaderSize(sibs.length);
  for (const a of actors) {
    const n = clock[a];
    if (typeof n !== 'number') return undefined;
    size += 1 + strSize(a) + numSize(n);
  }
  for (const s of sibs) {
    const exp = s.expiresAt ?? 0;
    if (typeof s.dot[1] !== 'number' || typeof s.lastModified !== 'number' || typeof exp !== 'number' || !(s.value instanceof Uint8Array)) return undefined;
    size += 1 + strSize(s.dot[0]) + numSize(s.dot[1]) + binSize(s.value.length) + strSize(s.contentType) + numSize(s.lastModified) + 1 + numSize(exp);
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x93;
  out[1] = FORMAT_V1;
  let pos = writeArrayHeader(out, 2, actors.length);
  for (const a of actors) {
    out[pos++] = 0x92;
    pos = writeStr(out, pos, a);
    if (pos < 0) return undefined;
    pos = writeNum(out, pos, clock[a]!);
  }
  pos = writeArrayHeader(out, pos, sibs.length);
  for (const s of sibs) {
    out[pos++] = 0x97;
    pos = writeStr(out, pos, s.dot[0]);
    if (pos < 0) return undefined;
    pos = writeNum(out, pos, s.dot[1]);
    pos = writeBin(out, pos, s.value);
    pos = writeStr(out, pos, s.contentType);
    if (pos < 0) return undefined;
    pos = writeNum(out, pos, s.lastModified);
    out[pos++] = s.deleted ? 1 : 0;
    pos = writeNum(out, pos, s.expiresAt ?? 0);
  }
  if (pos !== size) throw new Error(`object encoder size mismatch (${pos} != ${size})`);
  return out;
}

/*
 * Decoded short strings, by a hash of their bytes: objects repeat a handful of
 * actors and content types over and over, and a byte comparison is cheaper
 * than building the string again (the same string instance also keeps clock
 * property lookups on V8's fast path).
 */
const STRINGS = 256;
const MAX_CACHED_STRING = 64;
const stringBytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(STRINGS);
const stringValues: string[] = new Array<string>(STRINGS);

/** b[start, end) as a string when it is ASCII, else undefined. */
function asciiString(b: Buffer, start: number, end: number): string | undefined {
  const n = end - start;
  if (n > MAX_CACHED_STRING) {
    for (let i = start; i < end; i++) if (b[i]! > 0x7f) return undefined;
    return b.toString('latin1', start, end);
  }
  let h = n;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c > 0x7f) return undefined;
    h = (Math.imul(h, 31) + c) | 0;
  }
  const slot = (h ^ (h >>> 8)) & (STRINGS - 1);
  const cached = stringBytes[slot];
  if (cached !== undefined && cached.length === n) {
    let i = 0;
    while (i < n && cached[i] === b[start + i]) i++;
    if (i === n) return stringValues[slot];
  }
  const s = b.toString('latin1', start, end);
  stringBytes[slot] = Buffer.from(b.subarray(start, end));
  stringValues[slot] = s;
  return s;
}

/** A cursor over the bytes; every read returns undefined (decline) on anything unexpected. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  arrayLength(): number | undefined {
    const b = this.buf;
    const t = b[this.pos];
    if (t === undefined) return undefined;
    if ((t & 0xf0) === 0x90) {
      this.pos++;
      return t & 0x0f;
    }
    if (t === 0xdc && this.pos + 3 <= b.length) {
      this.pos += 3;
      return b.readUInt16BE(this.pos - 2);
    }
    if (t === 0xdd && this.pos + 5 <= b.length) {
      this.pos += 5;
      return b.readUInt32BE(this.pos - 4);
    }
    return undefined;
  }

  /** ASCII strings only: anything else goes to msgpackr, whose UTF-8 decoding is the reference. */
  str(): string | undefined {
    const b = this.buf;
    const t = b[this.pos];
    if (t === undefined) return undefined;
    let n: number;
    let start: number;
    if ((t & 0xe0) === 0xa0) {
      n = t & 0x1f;
      start = this.pos + 1;
    } else if (t === 0xd9 && this.pos + 2 <= b.length) {
      n = b[this.pos + 1]!;
      start = this.pos + 2;
    } else if (t === 0xda && this.pos + 3 <= b.length) {
      n = b.readUInt16BE(this.pos + 1);
      start = this.pos + 3;
    } else if (t === 0xdb && this.pos + 5 <= b.length) {
      n = b.readUInt32BE(this.pos + 1);
      start = this.pos + 5;
    } else return undefined;
    const end = start + n;
    if (end > b.length) return undefined;
    const s = asciiString(b, start, end);
    if (s !== undefined) this.pos = end;
    return s;
  }

  num(): number | undefined {
    const b = this.buf;
    const p = this.pos;
    const t = b[p];
    if (t === undefined) return undefined;
    if (t < 0x80) {
      this.pos = p + 1;
      return t;
    }
    if (t >= 0xe0) {
      this.pos = p + 1;
      return t - 0x100;
    }
    // float32 and 64-bit integers (never written here) are left to msgpackr's rules
    const need = t === 0xcc || t === 0xd0 ? 2 : t === 0xcd || t === 0xd1 ? 3 : t === 0xce || t === 0xd2 ? 5 : t === 0xcb ? 9 : 0;
    if (need === 0 || p + need > b.length) return undefined;
    this.pos = p + need;
    switch (t) {
      case 0xcc:
        return b[p + 1];
      case 0xcd:
        return b.readUInt16BE(p + 1);
      case 0xce:
        return b.readUInt32BE(p + 1);
      case 0xd0:
        return b.readInt8(p + 1);
      case 0xd1:
        return b.readInt16BE(p + 1);
      case 0xd2:
        return b.readInt32BE(p + 1);
      case 0xcb:
        return b.readDoubleBE(p + 1);
      default:
        return undefined;
    }
  }

  bin(): Buffer | undefined {
    const b = this.buf;
    const t = b[this.pos];
    let n: number;
    let start: number;
    if (t === 0xc4 && this.pos + 2 <= b.length) {
      n = b[this.pos + 1]!;
      start = this.pos + 2;
    } else if (t === 0xc5 && this.pos + 3 <= b.length) {
      n = b.readUInt16BE(this.pos + 1);
      start = this.pos + 3;
    } else if (t === 0xc6 && this.pos + 5 <= b.length) {
      n = b.readUInt32BE(this.pos + 1);
      start = this.pos + 5;
    } else return undefined;
    if (start + n > b.length) return undefined;
    this.pos = start + n;
    // a view, as msgpackr returns one (no copy of the value)
    return b.subarray(start, start + n);
  }
}

function decodeFast(buf: Buffer): RkvObject | undefined {
  if (buf.length < 4 || buf[0] !== 0x93 || buf[1] !== FORMAT_V1) return undefined;
  const r = new Reader(buf);
  r.pos = 2;
  const nClock = r.arrayLength();
  if (nClock === undefined) return undefined;
  const clock: Record<string, number> = {};
  let sorted = true;
  let prev = '';
  for (let i = 0; i < nClock; i++) {
    if (buf[r.pos] !== 0x92) return undefined;
    r.pos++;
    const actor = r.str();
    const n = r.num();
    if (actor === undefined || n === undefined) return undefined;
    if (i > 0 && !(prev < actor)) sorted = false;
    if (!(n > 0)) sorted = false;
    prev = actor;
    clock[actor] = n;
  }
  const nSibs = r.arrayLength();
  if (nSibs === undefined) return undefined;
  const siblings: Sibling[] = new Array<Sibling>(nSibs);
  for (let i = 0; i < nSibs; i++) {
    if (buf[r.pos] !== 0x97) return undefined;
    r.pos++;
    const actor = r.str();
    const counter = r.num();
    const value = r.bin();
    const contentType = r.str();
    const lastModified = r.num();
    const deleted = buf[r.pos++];
    const expiresAt = r.num();
    if (actor === undefined || counter === undefined || value === undefined || contentType === undefined || lastModified === undefined || (deleted !== 0 && deleted !== 1) || expiresAt === undefined) {
      return undefined;
    }
    const s: Sibling = { dot: [actor, counter], value, contentType, lastModified, deleted: deleted === 1 };
    if (expiresAt) s.expiresAt = expiresAt;
    siblings[i] = s;
  }
  if (r.pos !== buf.length) return undefined;
  // Stored clocks are sorted with positive counters already; anything else is normalised as the generic path does.
  return { clock: sorted ? clock : sortClock(clock), siblings };
}

/** The opaque context clients carry in X-Riak-Vclock: base64 of the packed clock. */
export function encodeContext(clock: VClock): string {
  return packr.pack(Object.entries(clock)).toString('base64');
}

export function decodeContext(text: string | undefined): VClock {
  if (!text) return {};
  let wire: unknown;
  try {
    wire = packr.unpack(Buffer.from(text, 'base64'));
  } catch {
    throw new CodecError('malformed causal context (X-Riak-Vclock)');
  }
  if (!Array.isArray(wire)) throw new CodecError('malformed causal context (X-Riak-Vclock)');
  const clock: Record<string, number> = {};
  for (const entry of wire) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Number.isSafeInteger(entry[1]) || entry[1] < 0) {
      throw new CodecError('malformed causal context (X-Riak-Vclock)');
    }
    clock[entry[0]] = entry[1];
  }
  return sortClock(clock);
}
