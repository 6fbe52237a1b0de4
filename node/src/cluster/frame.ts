import { Packr } from 'msgpackr';

/**
 * Wire framing for the cluster transport: a u32 big-endian payload length
 * followed by one msgpackr-encoded value. Pure: no sockets here, so the codec
 * can be fed arbitrary chunk boundaries in tests.
 */

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 4;

// Records (structured clone) off: both ends must agree on the encoding without
// shared state. copyBuffers: a decoded Buffer would otherwise be a view into the
// socket chunk and pin it for as long as the value lives (e.g. in a backend).
const packr = new Packr({ useRecords: false, copyBuffers: true });

export type FrameErrorCode = 'frame_too_large' | 'bad_payload';

export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

export type DecodeEvent = { type: 'message'; value: unknown } | { type: 'error'; error: FrameError };

/** Encodes one value as a frame; throws FrameError when it would exceed the limit the receiver enforces. */
export function encodeFrame(value: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  const payload = packr.pack(value);
  if (payload.length > maxFrameBytes) {
    throw new FrameError('frame_too_large', `frame of ${payload.length} bytes exceeds the ${maxFrameBytes} byte limit`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Incremental decoder. Holds at most one partial frame (header + at most
 * maxFrameBytes of payload): the length is checked as soon as the header is
 * complete, before anything is buffered or allocated for the payload. After
 * the first error it is poisoned (the stream position is meaningless) and
 * ignores further input; the caller drops the connection.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // payload length of the frame in progress, -1 until its header is read
  private failed = false;

  constructor(opts: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes currently held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): DecodeEvent[] {
    if (this.failed) return [];
    const events: DecodeEvent[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      const want = (this.need < 0 ? HEADER_BYTES : this.need) - this.buffered;
      const take = rest.subarray(0, want);
      rest = rest.subarray(take.length);
      this.chunks.push(take);
      this.buffered += take.length;
      if (take.length < want) break;
      const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      if (this.need < 0) {
        const len = whole.readUInt32BE(0);
        if (len > this.maxFrameBytes) return this.fail(events, 'frame_too_large', `frame length ${len} exceeds the ${this.maxFrameBytes} byte limit`);
        if (len === 0) return this.fail(events, 'bad_payload', 'empty frame');
        this.need = len;
        continue;
      }
      this.need = -1;
      try {
        events.push({ type: 'message', value: packr.unpack(whole) });
      } catch (e) {
        return this.fail(events, 'bad_payload', `undecodable payload: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return events;
  }

  private fail(events: DecodeEvent[], code: FrameErrorCode, message: string): DecodeEvent[] {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
    events.push({ type: 'error', error: new FrameError(code, message) });
    return events;
  }
}
