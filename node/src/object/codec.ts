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
  const wire: WireObject = [
    FORMAT_V1,
    Object.entries(obj.clock),
    obj.siblings.map((s) => [s.dot[0], s.dot[1], s.value, s.contentType, s.lastModified, s.deleted ? 1 : 0, s.expiresAt ?? 0]),
  ];
  return packr.pack(wire);
}

export function decodeObject(buf: Buffer): RkvObject {
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
