import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, FrameError, encodeFrame, type DecodeEvent } from '../../../node/src/cluster/frame.js';

const messages = (events: DecodeEvent[]): unknown[] => events.map((e) => (e.type === 'message' ? e.value : assert.fail(`unexpected ${e.error.message}`)));

function frameOfPayload(payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

const sample = [
  { t: 'req', id: 1, kind: 'kv.get', body: { bucket: 'b', key: Buffer.from([0, 1, 2, 255]) } },
  { t: 'cast', kind: 'gossip', body: [1, 'two', null, true, { nested: [Buffer.alloc(0)] }] },
  'plain string',
  12345678901,
];

describe('frame codec', () => {
  it('decodes frames fed one byte at a time, Buffers staying Buffers', () => {
    const wire = Buffer.concat(sample.map((v) => encodeFrame(v)));
    const d = new FrameDecoder();
    const out: DecodeEvent[] = [];
    for (const byte of wire) out.push(...d.push(Buffer.from([byte])));
    assert.deepEqual(messages(out), sample);
    const first = messages(out)[0] as { body: { key: unknown } };
    assert.ok(Buffer.isBuffer(first.body.key));
    assert.equal(d.bufferedBytes, 0);
  });

  it('decodes any split of any sequence of frames (property, fixed seed)', () => {
    const value = fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (values, cutsRaw) => {
        const wire = Buffer.concat(values.map((v) => encodeFrame(v)));
        const cuts = [...new Set(cutsRaw.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const d = new FrameDecoder();
        const out: DecodeEvent[] = [];
        let at = 0;
        for (const cut of [...cuts, wire.length]) {
          out.push(...d.push(wire.subarray(at, cut)));
          at = cut;
        }
        // JSON-ish values compare through msgpack's own normalisation (-0 -> 0), so compare re-encoded bytes
        assert.deepEqual(messages(out).map((v) => encodeFrame(v)), values.map((v) => encodeFrame(v)));
      }),
      { seed: 20240601, numRuns: 200 },
    );
  });

  it('rejects an oversize length as soon as the header is complete, buffering nothing', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    assert.deepEqual(d.push(Buffer.from([0xff, 0xff, 0xff])), []);
    const events = d.push(Buffer.from([0xff, 1, 2, 3]));
    assert.equal(events.length, 1);
    const ev = events[0]!;
    assert.ok(ev.type === 'error' && ev.error instanceof FrameError && ev.error.code === 'frame_too_large');
    assert.equal(d.bufferedBytes, 0);
    assert.deepEqual(d.push(Buffer.alloc(4096, 1)), [], 'a poisoned decoder ignores further input');
    assert.equal(d.bufferedBytes, 0);
  });

  it('rejects a 4 GiB length with the default 64 MiB limit', () => {
    const [ev] = new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.ok(ev?.type === 'error' && ev.error.code === 'frame_too_large');
  });

  it('accepts a frame of exactly the limit and refuses to encode one over it', () => {
    const value = { data: Buffer.alloc(100, 3) };
    const frame = encodeFrame(value);
    const limit = frame.length - 4;
    assert.deepEqual(messages(new FrameDecoder({ maxFrameBytes: limit }).push(frame)), [value]);
    const [ev] = new FrameDecoder({ maxFrameBytes: limit - 1 }).push(frame);
    assert.ok(ev?.type === 'error' && ev.error.code === 'frame_too_large');
    assert.throws(() => encodeFrame(value, limit - 1), (e: unknown) => e instanceof FrameError && e.code === 'frame_too_large');
  });

  it('reports undecodable payloads and empty frames as bad_payload, after the good frames before them', () => {
    const good = encodeFrame({ ok: 1 });
    for (const payload of [Buffer.from([0xdd, 0, 0]) /* truncated array32 */, Buffer.from([1, 2]) /* trailing bytes */, Buffer.alloc(0)]) {
      const events = new FrameDecoder().push(Buffer.concat([good, frameOfPayload(payload), good]));
      assert.equal(events.length, 2);
      assert.deepEqual(events[0], { type: 'message', value: { ok: 1 } });
      assert.ok(events[1]?.type === 'error' && events[1].error.code === 'bad_payload');
    }
  });
});
