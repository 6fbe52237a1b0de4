import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeReply, R, ReplyQueue, stringMap, type ReplySink } from '../../../node/src/api/resp/writer.js';

const enc2 = (r: Parameters<typeof encodeReply>[0]): string => encodeReply(r, 2).toString('latin1');
const enc3 = (r: Parameters<typeof encodeReply>[0]): string => encodeReply(r, 3).toString('latin1');

describe('RESP encoding', () => {
  it('encodes scalars the same in RESP2 and RESP3', () => {
    for (const enc of [enc2, enc3]) {
      assert.equal(enc(R.ok), '+OK\r\n');
      assert.equal(enc(R.simple('PONG')), '+PONG\r\n');
      assert.equal(enc(R.error('ERR syntax error')), '-ERR syntax error\r\n');
      assert.equal(enc(R.int(0)), ':0\r\n');
      assert.equal(enc(R.int(-42)), ':-42\r\n');
      assert.equal(enc(R.bulk('héllo')), '$6\r\nh\xc3\xa9llo\r\n');
      assert.equal(enc(R.bulk(Buffer.from([0, 13, 10]))), '$3\r\n\x00\r\n\r\n');
      assert.equal(enc(R.bulk('')), '$0\r\n\r\n');
    }
  });

  it('encodes null per protocol', () => {
    assert.equal(enc2(R.null), '$-1\r\n');
    assert.equal(enc3(R.null), '_\r\n');
    assert.equal(enc2(R.array([R.bulk('a'), R.null])), '*2\r\n$1\r\na\r\n$-1\r\n');
    assert.equal(enc3(R.array([R.bulk('a'), R.null])), '*2\r\n$1\r\na\r\n_\r\n');
  });

  it('encodes maps as flat arrays in RESP2 and % in RESP3', () => {
    const m = stringMap([
      ['server', 'rkv'],
      ['proto', 3],
      ['modules', R.array([])],
    ]);
    assert.equal(enc2(m), '*6\r\n$6\r\nserver\r\n$3\r\nrkv\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n');
    assert.equal(enc3(m), '%3\r\n$6\r\nserver\r\n$3\r\nrkv\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n');
    assert.equal(enc2(R.map([])), '*0\r\n');
    assert.equal(enc3(R.map([])), '%0\r\n');
  });

  it('encodes nested arrays and verbatim strings', () => {
    assert.equal(enc2(R.array([R.bulk('0'), R.array([R.bulk('k1'), R.bulk('k2')])])), '*2\r\n$1\r\n0\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n');
    assert.equal(enc2(R.verbatim('# Server\r\n')), '$10\r\n# Server\r\n\r\n');
    assert.equal(enc3(R.verbatim('# Server\r\n')), '=14\r\ntxt:# Server\r\n\r\n');
  });

  it('keeps errors and simple strings on one line', () => {
    assert.equal(enc2(R.error("ERR unknown command 'a\r\nb'")), "-ERR unknown command 'a b'\r\n");
    assert.equal(enc2(R.simple('x\ny')), '+x y\r\n');
  });
});

class FakeSink implements ReplySink {
  writes: string[] = [];
  corked = 0;
  full = false;
  write(data: Buffer): boolean {
    this.writes.push(data.toString('latin1'));
    return !this.full;
  }
  cork(): void {
    this.corked++;
  }
  uncork(): void {}
}

describe('ReplyQueue', () => {
  it('writes replies in request order although they complete out of order', () => {
    const sink = new FakeSink();
    const q = new ReplyQueue(sink);
    const a = q.reserve();
    q.push(encodeReply(R.simple('B')));
    const c = q.reserve();
    q.push(encodeReply(R.simple('D')));
    assert.equal(q.pending, 2);
    q.flush();
    assert.deepEqual(sink.writes, []);
    q.fill(c, encodeReply(R.simple('C')));
    q.flush();
    assert.deepEqual(sink.writes, []);
    q.fill(a, encodeReply(R.simple('A')));
    assert.equal(q.pending, 0);
    q.flush();
    assert.deepEqual(sink.writes, ['+A\r\n+B\r\n+C\r\n+D\r\n']);
    assert.ok(q.idle);
  });

  it('batches many ready replies into a single write', () => {
    const sink = new FakeSink();
    const q = new ReplyQueue(sink);
    for (let i = 0; i < 16; i++) q.push(encodeReply(R.ok));
    q.flush();
    assert.equal(sink.writes.length, 1);
    assert.equal(sink.writes[0], '+OK\r\n'.repeat(16));
  });

  it('writes large replies through a corked socket instead of copying them', () => {
    const sink = new FakeSink();
    const q = new ReplyQueue(sink);
    q.push(encodeReply(R.bulk(Buffer.alloc(100_000))));
    q.push(encodeReply(R.ok));
    q.flush();
    assert.equal(sink.corked, 1);
    assert.equal(sink.writes.length, 2);
  });

  it('reports backpressure', () => {
    const sink = new FakeSink();
    sink.full = true;
    const q = new ReplyQueue(sink);
    q.push(encodeReply(R.ok));
    assert.equal(q.flush(), false);
    assert.equal(q.flush(), true);
  });
});
