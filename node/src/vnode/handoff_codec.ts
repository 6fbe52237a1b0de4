/**
 * A handoff batch on the wire: the entries exactly as the sending vnode stores
 * them, packed back to back as `[u32 key length][key][u32 value length][value]`.
 * One buffer per batch instead of a msgpack array per object keeps framing
 * cost per batch, not per object; the receiver reads it with views, no copies.
 */
export interface StoredEntry {
  sk: Buffer;
  raw: Buffer;
}

export function encodeEntries(entries: { key: Buffer; value: Buffer }[]): Buffer {
  let size = 0;
  for (const e of entries) size += 8 + e.key.length + e.value.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const e of entries) {
    at = out.writeUInt32BE(e.key.length, at);
    at += e.key.copy(out, at);
    at = out.writeUInt32BE(e.value.length, at);
    at += e.value.copy(out, at);
  }
  return out;
}

export function decodeEntries(buf: Uint8Array): StoredEntry[] {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: StoredEntry[] = [];
  let at = 0;
  const take = (): Buffer => {
    if (at + 4 > b.length) throw new Error(`handoff batch truncated at byte ${at} of ${b.length}`);
    const len = b.readUInt32BE(at);
    at += 4;
    if (at + len > b.length) throw new Error(`handoff batch entry of ${len} bytes overruns the batch (${b.length - at} left)`);
    const v = b.subarray(at, at + len);
    at += len;
    return v;
  };
  while (at < b.length) out.push({ sk: take(), raw: take() });
  return out;
}
