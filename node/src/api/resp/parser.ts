/**
 * Incremental RESP request parser. It never sees a socket: the connection feeds
 * it chunks and it calls back with whole commands, in stream order.
 *
 * Buffers passed to feed() are owned by the parser afterwards (arguments may be
 * views into them), which is what lets the hot path avoid copies: a bulk that
 * lies wholly inside one chunk is handed out as a subarray of it.
 */

import { Buffer } from 'node:buffer';

export interface RespParserEvents {
  command(args: Buffer[]): void;
  /** The command was consumed but refused (e.g. a value too large); parsing goes on. */
  commandError(message: string): void;
  /** The stream cannot be parsed any further: reply `-ERR <message>` and close. */
  protocolError(message: string): void;
}

export interface RespParserOptions {
  /** largest single argument accepted; larger (but legal) ones are skipped */
  maxValueSize?: number;
  /** largest total of argument bytes one command may buffer */
  maxCommandBytes?: number;
}

/** Limits of redis-server (proto-max-bulk-len, multibulk count, inline size). */
export const MAX_BULK_LEN = 512 * 1024 * 1024;
export const MAX_MULTIBULK_COUNT = 1024 * 1024;
export const MAX_INLINE_SIZE = 64 * 1024;
export const DEFAULT_MAX_VALUE_SIZE = 16 * 1024 * 1024;

const CR = 13;
const LF = 10;

const enum State {
  /** waiting for the first line of a command */
  Start,
  /** waiting for a `$len` line of the current multibulk */
  BulkHeader,
  /** collecting the bytes of a bulk that spans chunks */
  Bulk,
  /** the CRLF that ends a bulk */
  BulkEnd,
  /** discarding an oversized bulk (data and CRLF) */
  Skip,
  /** after a protocol error or stop(): everything is ignored */
  Dead,
}

export class RespParser {
  private readonly maxValueSize: number;
  private readonly maxCommandBytes: number;
  private state = State.Start;
  /** copied start of a line that was cut by chunk boundaries */
  private carry: Buffer[] = [];
  private carryLen = 0;
  private args: Buffer[] = [];
  private argsLeft = 0;
  private commandBytes = 0;
  /** set when an argument of the current command was skipped */
  private refusal: string | null = null;
  private bulkLen = 0;
  private bulkPieces: Buffer[] = [];
  private bulkHave = 0;
  private crlfLeft = 0;
  private skipLeft = 0;
  /** where the line decimalLine() read last ends (past its CRLF) */
  private lineAfter = 0;

  constructor(
    private readonly events: RespParserEvents,
    opts: RespParserOptions = {},
  ) {
    this.maxValueSize = opts.maxValueSize ?? DEFAULT_MAX_VALUE_SIZE;
    this.maxCommandBytes = opts.maxCommandBytes ?? Math.max(MAX_BULK_LEN, this.maxValueSize);
  }

  /** True once a protocol error was reported or stop() was called. */
  get stopped(): boolean {
    return this.state === State.Dead;
  }

  /** Ignore the rest of the stream (QUIT: commands pipelined after it are not run). */
  stop(): void {
    this.state = State.Dead;
    this.resetCommand();
    this.carry = [];
    this.carryLen = 0;
  }

  feed(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.state === State.Start && chunk[pos] === 0x2a && this.carry.length === 0) {
        const next = this.wholeCommand(chunk, pos);
        if (next > 0) {
          pos = next;
          continue;
        }
      }
      switch (this.state) {
        case State.Dead:
          return;
        case State.Start:
        case State.BulkHeader: {
          const next = this.readLine(chunk, pos);
          if (next < 0) return;
          pos = next;
          break;
        }
        case State.Bulk: {
          const take = Math.min(end - pos, this.bulkLen - this.bulkHave);
          this.bulkPieces.push(chunk.subarray(pos, pos + take));
          this.bulkHave += take;
          pos += take;
          if (this.bulkHave === this.bulkLen) {
            const pieces = this.bulkPieces;
            this.bulkPieces = [];
            this.args.push(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.bulkLen));
            this.state = State.BulkEnd;
            this.crlfLeft = 2;
          }
          break;
        }
        case State.BulkEnd: {
          const want = this.crlfLeft === 2 ? CR : LF;
          if (chunk[pos] !== want) return this.fail("Protocol error: expected '\\r\\n' after bulk data");
          pos++;
          if (--this.crlfLeft === 0) this.argDone();
          break;
        }
        case State.Skip: {
          const take = Math.min(end - pos, this.skipLeft);
          this.skipLeft -= take;
          pos += take;
          if (this.skipLeft === 0) this.argDone();
          break;
        }
      }
    }
  }

  /**
   * The common case in one pass: a multibulk command lying wholly inside the
   * chunk, with plain lengths within the limits. Returns the position after
   * it, having handed it out; or -1, having done nothing, for anything else
   * (cut by the chunk's end, oversized, malformed), which the line-by-line
   * path below then parses and, where due, refuses.
   */
  private wholeCommand(chunk: Buffer, pos: number): number {
    const n = this.decimalLine(chunk, pos + 1, 4);
    if (n <= 0) return -1;
    let p = this.lineAfter;
    const args: Buffer[] = [];
    const ab = chunk.buffer;
    const base = chunk.byteOffset;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      if (p >= chunk.length || chunk[p] !== 0x24) return -1;
      const len = this.decimalLine(chunk, p + 1, 9);
      if (len < 0) return -1;
      p = this.lineAfter;
      bytes += len;
      if (len > this.maxValueSize || bytes > this.maxCommandBytes) return -1;
      if (p + len + 1 >= chunk.length || chunk[p + len] !== CR || chunk[p + len + 1] !== LF) return -1;
      // a view like subarray(), made without its argument checks
      args.push(Buffer.from(ab, base + p, len));
      p += len + 2;
    }
    this.events.command(args);
    return p;
  }

  /**
   * wholeCommand's header lines: the decimal of 1 to `maxDigits` digits at
   * chunk[p] followed by CRLF, with lineAfter set past the CRLF; -1 for
   * anything else, as the line-by-line path then decides.
   */
  private decimalLine(chunk: Buffer, p: number, maxDigits: number): number {
    const end = chunk.length;
    let i = p;
    let v = 0;
    let c = 0;
    while (i < end && (c = chunk[i]!) >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
      if (++i - p > maxDigits) return -1;
    }
    if (i === p || i + 1 >= end || chunk[i] !== CR || chunk[i + 1] !== LF) return -1;
    this.lineAfter = i + 2;
    return v;
  }

  /**
   * Reads one line starting at pos and acts on it; returns the position after it,
   * or -1 when the line is incomplete (its start is carried to the next chunk).
   */
  private readLine(chunk: Buffer, pos: number): number {
    // Header lines are a few bytes long: a short scan beats a native indexOf call.
    let nl = -1;
    const scanEnd = Math.min(chunk.length, pos + 24);
    for (let i = pos; i < scanEnd; i++) {
      if (chunk[i] === LF) {
        nl = i;
        break;
      }
    }
    if (nl < 0 && scanEnd < chunk.length) nl = chunk.indexOf(LF, scanEnd);
    const total = this.carryLen + (nl < 0 ? chunk.length : nl) - pos;
    if (total > MAX_INLINE_SIZE) {
      const first = this.carry.length > 0 ? this.carry[0]![0] : chunk[pos];
      const what = this.state === State.BulkHeader ? 'bulk count string' : first === 0x2a ? 'mbulk count string' : 'inline request';
      this.fail(`Protocol error: too big ${what}`);
      return -1;
    }
    if (nl < 0) {
      // Copy only the tail, so the chunk itself can be released. The carry holds
      // no LF, so later chunks are searched alone (no quadratic re-scan or re-copy).
      this.carry.push(Buffer.from(chunk.subarray(pos)));
      this.carryLen += chunk.length - pos;
      return -1;
    }
    // The line is buf[start, end), without its LF; no view of it is made for the common case.
    let buf: Buffer;
    let start: number;
    let end: number;
    if (this.carry.length > 0) {
      this.carry.push(chunk.subarray(pos, nl));
      buf = Buffer.concat(this.carry, total);
      this.carry = [];
      this.carryLen = 0;
      start = 0;
      end = buf.length;
    } else {
      buf = chunk;
      start = pos;
      end = nl;
    }
    const lineEnd = end > start && buf[end - 1] === CR ? end - 1 : end;
    const after = nl + 1;
    if (this.state === State.BulkHeader) return this.bulkHeader(buf, start, lineEnd, end > start, chunk, after);
    if (end > start && buf[start] === 0x2a /* '*' */) this.multibulkHeader(buf, start, lineEnd);
    else this.inline(buf.subarray(start, lineEnd));
    return after;
  }

  private multibulkHeader(line: Buffer, start: number, lineEnd: number): void {
    const n = parseLength(line, start + 1, lineEnd);
    if (n === null || n > MAX_MULTIBULK_COUNT) return this.fail('Protocol error: invalid multibulk length');
    // `*0` and `*-1` are empty/null arrays: redis ignores them.
    if (n <= 0) return;
    this.argsLeft = n;
    this.state = State.BulkHeader;
  }

  /**
   * Acts on a `$len` line (line[start, lineEnd), CR excluded) and returns where
   * parsing goes on: past the bulk when it lies wholly inside the chunk (taken
   * in place), else right after the line.
   */
  private bulkHeader(line: Buffer, start: number, lineEnd: number, nonEmpty: boolean, chunk: Buffer, after: number): number {
    if (!nonEmpty || line[start] !== 0x24 /* '$' */) {
      const got = nonEmpty ? String.fromCharCode(line[start]!) : '\\n';
      this.fail(`Protocol error: expected '$', got '${printable(got)}'`);
      return after;
    }
    const len = parseLength(line, start + 1, lineEnd);
    if (len === null || len < 0 || len > MAX_BULK_LEN) {
      this.fail('Protocol error: invalid bulk length');
      return after;
    }
    if (this.refusal === null && len > this.maxValueSize) {
      this.refusal = `value too large (${len} bytes, max ${this.maxValueSize})`;
    } else if (this.refusal === null && this.commandBytes + len > this.maxCommandBytes) {
      this.refusal = `command too large (more than ${this.maxCommandBytes} bytes)`;
    }
    if (this.refusal !== null) {
      // Once a command is refused its remaining arguments are dropped too.
      this.args.length = 0;
      this.commandBytes = 0;
      this.skipLeft = len + 2;
      this.state = State.Skip;
      return after;
    }
    this.commandBytes += len;
    if (chunk.length - after >= len + 2) {
      if (chunk[after + len] !== CR || chunk[after + len + 1] !== LF) {
        this.fail("Protocol error: expected '\\r\\n' after bulk data");
        return after;
      }
      this.args.push(chunk.subarray(after, after + len));
      this.argDone();
      return after + len + 2;
    }
    this.bulkLen = len;
    this.bulkHave = 0;
    if (len === 0) {
      this.args.push(Buffer.alloc(0));
      this.state = State.BulkEnd;
      this.crlfLeft = 2;
    } else {
      this.state = State.Bulk;
    }
    return after;
  }

  private argDone(): void {
    if (--this.argsLeft > 0) {
      this.state = State.BulkHeader;
      return;
    }
    const args = this.args;
    const refusal = this.refusal;
    this.resetCommand();
    this.state = State.Start;
    if (refusal !== null) this.events.commandError(refusal);
    else this.events.command(args);
  }

  private inline(line: Buffer): void {
    const args = splitInline(line);
    if (args === null) return this.fail('Protocol error: unbalanced quotes in request');
    if (args.length > 0) this.events.command(args);
  }

  private resetCommand(): void {
    this.args = [];
    this.argsLeft = 0;
    this.commandBytes = 0;
    this.refusal = null;
    this.bulkPieces = [];
  }

  private fail(message: string): void {
    this.stop();
    this.events.protocolError(message);
  }
}

function printable(s: string): string {
  const c = s.charCodeAt(0);
  return c >= 0x20 && c < 0x7f ? s : `\\x${c.toString(16).padStart(2, '0')}`;
}

/**
 * Parses an optionally negative decimal integer in buf[from, to) without
 * building a string; null when it is not one (like redis' string2ll).
 */
export function parseLength(buf: Buffer, from: number, to: number): number | null {
  let i = from;
  let neg = false;
  if (i < to && buf[i] === 0x2d /* '-' */) {
    neg = true;
    i++;
  }
  // 15 digits keep us within the safe integers; every limit is far below.
  if (i >= to || to - i > 15) return null;
  let n = 0;
  for (; i < to; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, a: 7 };

/**
 * Splits an inline command like redis' sdssplitargs: blanks separate words,
 * "double quotes" understand \n \r \t \b \a \xHH, 'single quotes' only \'.
 * Returns null on unbalanced quotes or a closing quote not followed by a blank.
 */
export function splitInline(line: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  const isBlank = (c: number | undefined): boolean => c === 0x20 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0;
  let i = 0;
  const n = line.length;
  while (true) {
    while (i < n && isBlank(line[i])) i++;
    if (i >= n) return out;
    const bytes: number[] = [];
    const quote = line[i] === 0x22 ? 0x22 : line[i] === 0x27 ? 0x27 : 0;
    if (quote === 0) {
      const start = i;
      while (i < n && !isBlank(line[i])) i++;
      out.push(Buffer.from(line.subarray(start, i)));
      continue;
    }
    i++;
    for (;;) {
      if (i >= n) return null;
      const c = line[i]!;
      if (quote === 0x22 && c === 0x5c /* \ */ && i + 1 < n) {
        const e = String.fromCharCode(line[i + 1]!);
        const hex = e === 'x' && i + 3 < n ? line.subarray(i + 2, i + 4).toString('latin1') : '';
        if (/^[0-9a-fA-F]{2}$/.test(hex)) {
          bytes.push(parseInt(hex, 16));
          i += 4;
        } else {
          bytes.push(ESCAPES[e] ?? line[i + 1]!);
          i += 2;
        }
      } else if (quote === 0x27 && c === 0x5c && line[i + 1] === 0x27) {
        bytes.push(0x27);
        i += 2;
      } else if (c === quote) {
        i++;
        if (i < n && !isBlank(line[i])) return null;
        break;
      } else {
        bytes.push(c);
        i++;
      }
    }
    out.push(Buffer.from(bytes));
  }
}
