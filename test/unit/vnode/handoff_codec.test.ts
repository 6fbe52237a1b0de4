import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntries, encodeEntries } from '../../../node/src/vnode/handoff_codec.js';

describe('handoff batch codec', () => {
  const entries = [
    { key: Buffer.from('k1'), value: Buffer.from('value one') },
    { key: Buffer.alloc(0), value: Buffer.alloc(0) },
    { key: Buffer.from([0, 255, 7]), value: Buffer.alloc(3000, 9) },
  ];

  it('round-trips entries, byte for byte and in order', () => {
    const got = decodeEntries(encodeEntries(entries));
    assert.deepEqual(got.map((e) => [e.sk, e.raw]), entries.map((e) => [e.key, e.value]));
    assert.deepEqual(decodeEntries(encodeEntries([])), []);
  });

  it('reads a plain Uint8Array (as a frame decoder may hand it over)', () => {
    const buf = encodeEntries(entries);
    const u8 = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    assert.deepEqual(decodeEntries(u8).map((e) => e.raw.length), [9, 0, 3000]);
  });

  it('refuses a truncated or overrunning batch with a clear error', () => {
    const buf = encodeEntries(entries);
    assert.throws(() => decodeEntries(buf.subarray(0, buf.length - 1)), /overruns the batch/);
    assert.throws(() => decodeEntries(buf.subarray(0, 2)), /truncated at byte 0/);
    const lying = Buffer.from(buf);
    lying.writeUInt32BE(0xffffffff, 0);
    assert.throws(() => decodeEntries(lying), /overruns the batch/);
  });
});
