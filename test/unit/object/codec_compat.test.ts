import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeObject, encodeObject } from '../../../node/src/object/codec.js';
import type { RkvObject, Sibling } from '../../../node/src/object/object.js';

// The format as it was first written with msgpackr: the direct encoder must produce the same bytes.
const packr = new Packr({ useRecords: false, moreTypes: false });
const reference = (o: RkvObject): Buffer =>
  packr.pack([1, Object.entries(o.clock), o.siblings.map((s) => [s.dot[0], s.dot[1], s.value, s.contentType, s.lastModified, s.deleted ? 1 : 0, s.expiresAt ?? 0])]);

const num = fc.oneof(
  fc.nat(300),
  fc.integer({ min: -70_000, max: 70_000 }),
  fc.integer({ min: 0, max: 2 ** 32 + 5 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 1_763_000_000_000, -1, -32, -33, -128, -129, -32768, -32769, 1.5),
);
const str = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ minLength: 250, maxLength: 300 }), fc.constant('0a1b2c3d4e5f6a7b.12'), fc.constant('123'));
const sibling: fc.Arbitrary<Sibling> = fc
  .record({
    actor: str,
    counter: num,
    value: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant(new Uint8Array(70_000))),
    contentType: str,
    lastModified: num,
    deleted: fc.boolean(),
    expiresAt: fc.option(num, { nil: undefined }),
  })
  .map((r) => {
    const s: Sibling = { dot: [r.actor, r.counter], value: Buffer.from(r.value), contentType: r.contentType, lastModified: r.lastModified, deleted: r.deleted };
    if (r.expiresAt !== undefined) s.expiresAt = r.expiresAt;
    return s;
  });
const object: fc.Arbitrary<RkvObject> = fc.record({ clock: fc.dictionary(str, num), siblings: fc.array(sibling, { maxLength: 12 }) });

describe('codec fast path', () => {
  it('writes exactly the bytes msgpackr writes', () => {
    fc.assert(fc.property(object, (o) => encodeObject(o).equals(reference(o))), { numRuns: 1500 });
  });

  it('reads what msgpackr wrote as the msgpackr path does', () => {
    fc.assert(
      fc.property(object, (o) => {
        const bytes = reference(o);
        const d = decodeObject(bytes);
        const w = packr.unpack(bytes) as [number, [string, number][], [string, number, Uint8Array, string, number, number, number][]];
        const clock: Record<string, number> = {};
        for (const [a, n] of w[1]) clock[a] = n;
        const sorted: Record<string, number> = {};
        for (const a of Object.keys(clock).sort()) if (clock[a]! > 0) sorted[a] = clock[a]!;
        assert.equal(JSON.stringify(d.clock), JSON.stringify(sorted));
        assert.deepEqual(
          d.siblings.map((s) => [s.dot[0], s.dot[1], Buffer.from(s.value).toString('hex'), s.contentType, s.lastModified, s.deleted, s.expiresAt]),
          w[2].map((x) => [x[0], x[1], Buffer.from(x[2]).toString('hex'), x[3], x[4], x[5] === 1, x[6] ? x[6] : undefined]),
        );
      }),
      { numRuns: 1500 },
    );
  });
});
