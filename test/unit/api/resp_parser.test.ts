import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RespParser, parseLength, splitInline, type RespParserOptions } from '../../../node/src/api/resp/parser.js';

type Event = { cmd: string[] } | { err: string } | { fatal: string };

function collect(opts: RespParserOptions = {}): { parser: RespParser; events: Event[] } {
  const events: Event[] = [];
  const parser = new RespParser(
    {
      command: (args) => events.push({ cmd: args.map((a) => a.toString('latin1')) }),
      commandError: (message) => events.push({ err: message }),
      protocolError: (message) => events.push({ fatal: message }),
    },
    opts,
  );
  return { parser, events };
}

function parseWhole(input: Buffer, opts?: RespParserOptions): Event[] {
  const { parser, events } = collect(opts);
  parser.feed(Buffer.from(input));
  return events;
}

function parseBytewise(input: Buffer, opts?: RespParserOptions): Event[] {
  const { parser, events } = collect(opts);
  for (let i = 0; i < input.length; i++) parser.feed(Buffer.from(input.subarray(i, i + 1)));
  return events;
}

function parseSplit(input: Buffer, cuts: number[], opts?: RespParserOptions): Event[] {
  const { parser, events } = collect(opts);
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const p of [...points, input.length]) {
    if (p > prev) parser.feed(Buffer.from(input.subarray(prev, p)));
    prev = Math.max(prev, p);
  }
  return events;
}

/** Every way of feeding must give the same events. */
function parseAll(input: Buffer | string, opts?: RespParserOptions): Event[] {
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const whole = parseWhole(buf, opts);
  assert.deepEqual(parseBytewise(buf, opts), whole, 'byte-at-a-time differs from whole');
  assert.deepEqual(parseSplit(buf, [3, 7, 19, 40], opts), whole, 'split differs from whole');
  return whole;
}

function mb(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

describe('RESP parser: multibulk', () => {
  it('parses one and several pipelined commands', () => {
    assert.deepEqual(parseAll(mb('GET', 'foo')), [{ cmd: ['GET', 'foo'] }]);
    const stream = Buffer.concat([mb('SET', 'a', '1'), mb('GET', 'a'), mb('PING')]);
    assert.deepEqual(parseAll(stream), [{ cmd: ['SET', 'a', '1'] }, { cmd: ['GET', 'a'] }, { cmd: ['PING'] }]);
  });

  it('is binary safe: CRLF and NUL inside bulks, empty bulks', () => {
    const v = Buffer.from([0, 13, 10, 255, 42, 13, 10, 36, 51]);
    const events = parseAll(Buffer.concat([mb('SET', 'k\r\n', v), mb('SET', '', '')]));
    assert.deepEqual(events, [{ cmd: ['SET', 'k\r\n', v.toString('latin1')] }, { cmd: ['SET', '', ''] }]);
  });

  it('hands out arguments as views of the chunk when the bulk is inside it', () => {
    const chunk = mb('GET', 'foo');
    let got: Buffer[] = [];
    new RespParser({ command: (a) => (got = a), commandError: () => {}, protocolError: () => {} }).feed(chunk);
    assert.equal(got[1]!.buffer, chunk.buffer);
  });

  it('ignores empty and null arrays like redis', () => {
    assert.deepEqual(parseAll('*0\r\n*-1\r\n*-5\r\n' + mb('PING').toString('latin1')), [{ cmd: ['PING'] }]);
  });

  it('accepts a big value split over many chunks', () => {
    const big = Buffer.alloc(300_000, 7);
    const events = parseSplit(Buffer.concat([mb('SET', 'k', big), mb('GET', 'k')]), [5, 100, 65_536, 131_072, 299_990]);
    assert.equal(events.length, 2);
    assert.equal((events[0] as { cmd: string[] }).cmd[2]!.length, 300_000);
    assert.deepEqual(events[1], { cmd: ['GET', 'k'] });
  });
});

describe('RESP parser: inline commands', () => {
  it('splits on blanks and understands quotes', () => {
    assert.deepEqual(parseAll('PING\r\n'), [{ cmd: ['PING'] }]);
    assert.deepEqual(parseAll('set  foo\tbar\n'), [{ cmd: ['set', 'foo', 'bar'] }]);
    assert.deepEqual(parseAll('set k "a b\\r\\n\\x41"\r\n'), [{ cmd: ['set', 'k', 'a b\r\nA'] }]);
    assert.deepEqual(parseAll("set k 'it\\'s'\r\n"), [{ cmd: ['set', 'k', "it's"] }]);
    assert.deepEqual(parseAll('\r\n\r\nPING\r\n'), [{ cmd: ['PING'] }]);
  });

  it('mixes inline and multibulk', () => {
    assert.deepEqual(parseAll('PING\r\n' + mb('ECHO', 'x').toString('latin1') + 'DBSIZE\n'), [{ cmd: ['PING'] }, { cmd: ['ECHO', 'x'] }, { cmd: ['DBSIZE'] }]);
  });

  it('refuses unbalanced quotes and inline lines over 64 KiB', () => {
    assert.deepEqual(parseAll('set k "abc\r\nPING\r\n'), [{ fatal: 'Protocol error: unbalanced quotes in request' }]);
    assert.deepEqual(parseAll('a'.repeat(70_000)), [{ fatal: 'Protocol error: too big inline request' }]);
    assert.deepEqual(parseAll('a'.repeat(70_000) + '\r\n'), [{ fatal: 'Protocol error: too big inline request' }]);
  });

  it('splitInline handles edge cases', () => {
    assert.deepEqual(splitInline(Buffer.from('')), []);
    assert.equal(splitInline(Buffer.from('"a"b')), null);
    assert.deepEqual(splitInline(Buffer.from('""'))!.map(String), ['']);
  });
});

describe('RESP parser: bad input', () => {
  it('refuses bad length prefixes', () => {
    assert.deepEqual(parseAll('*1\r\n$abc\r\n'), [{ fatal: 'Protocol error: invalid bulk length' }]);
    assert.deepEqual(parseAll('*1\r\n$-1\r\n'), [{ fatal: 'Protocol error: invalid bulk length' }]);
    assert.deepEqual(parseAll('*x\r\n'), [{ fatal: 'Protocol error: invalid multibulk length' }]);
    assert.deepEqual(parseAll('*1\r\n:5\r\n'), [{ fatal: "Protocol error: expected '$', got ':'" }]);
    assert.deepEqual(parseAll('*1\r\n$3\r\nabcXY'), [{ fatal: "Protocol error: expected '\\r\\n' after bulk data" }]);
  });

  it('refuses a huge multibulk count and a 1 GiB bulk without allocating', () => {
    assert.deepEqual(parseAll(`*${1024 * 1024 + 1}\r\n`), [{ fatal: 'Protocol error: invalid multibulk length' }]);
    assert.deepEqual(parseAll('*99999999999999999999\r\n'), [{ fatal: 'Protocol error: invalid multibulk length' }]);
    const before = process.memoryUsage().arrayBuffers;
    assert.deepEqual(parseAll(`*2\r\n$3\r\nSET\r\n$${1024 * 1024 * 1024}\r\nxx`), [{ fatal: 'Protocol error: invalid bulk length' }]);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
  });

  it('stops after a protocol error', () => {
    const { parser, events } = collect();
    parser.feed(Buffer.from('*1\r\n$x\r\n'));
    parser.feed(mb('PING'));
    assert.equal(events.length, 1);
    assert.ok(parser.stopped);
  });

  it('skips an oversized but legal value and parses the next command', () => {
    const opts = { maxValueSize: 1000 };
    const stream = Buffer.concat([mb('SET', 'k', Buffer.alloc(5000, 1)), mb('GET', 'k'), mb('SET', 'big', 'v', Buffer.alloc(1001)), mb('PING')]);
    const want = [{ err: 'value too large (5000 bytes, max 1000)' }, { cmd: ['GET', 'k'] }, { err: 'value too large (1001 bytes, max 1000)' }, { cmd: ['PING'] }];
    assert.deepEqual(parseAll(stream, opts), want);
  });

  it('skips oversized values without buffering them', () => {
    const { parser, events } = collect({ maxValueSize: 10 });
    const n = 100 * 1024 * 1024;
    parser.feed(Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${n}\r\n`));
    const block = Buffer.alloc(1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 100; i++) parser.feed(block);
    assert.ok(process.memoryUsage().arrayBuffers - before < 32 * 1024 * 1024);
    parser.feed(Buffer.concat([Buffer.from('\r\n'), mb('PING')]));
    assert.deepEqual(events, [{ err: `value too large (${n} bytes, max 10)` }, { cmd: ['PING'] }]);
  });

  it('never throws on random bytes, and nothing follows a protocol error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const events = parseSplit(Buffer.from(bytes), cuts);
        const fatal = events.findIndex((e) => 'fatal' in e);
        assert.ok(fatal < 0 || fatal === events.length - 1);
      }),
    );
  });

  it('parseLength accepts only decimal integers', () => {
    assert.equal(parseLength(Buffer.from('$123'), 1, 4), 123);
    assert.equal(parseLength(Buffer.from('-7'), 0, 2), -7);
    assert.equal(parseLength(Buffer.from(''), 0, 0), null);
    assert.equal(parseLength(Buffer.from('-'), 0, 1), null);
    assert.equal(parseLength(Buffer.from('1 2'), 0, 3), null);
    assert.equal(parseLength(Buffer.from('+1'), 0, 2), null);
  });
});

describe('RESP parser: property', () => {
  const arg = fc.oneof(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), fc.constantFrom(Buffer.from('\r\n'), Buffer.from('$3\r\n*1')));
  const command = fc.array(arg, { minLength: 1, maxLength: 5 });
  const inline = fc.array(fc.stringMatching(/^[a-zA-Z0-9_:]{1,8}$/), { minLength: 1, maxLength: 4 });

  it('any split of a stream gives the same commands', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(command.map((c) => ({ kind: 'mb' as const, c })), inline.map((c) => ({ kind: 'inline' as const, c }))), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 1, max: 60 }),
        (cmds, cuts, maxValueSize) => {
          const stream = Buffer.concat(cmds.map((x) => (x.kind === 'mb' ? mb(...x.c) : Buffer.from(x.c.join(' ') + '\r\n'))));
          const want: Event[] = cmds.map((x) => {
            if (x.kind === 'inline') return { cmd: x.c };
            const big = x.c.find((a) => a.length > maxValueSize);
            return big ? { err: `value too large (${big.length} bytes, max ${maxValueSize})` } : { cmd: x.c.map((a) => a.toString('latin1')) };
          });
          const opts = { maxValueSize };
          assert.deepEqual(parseSplit(stream, cuts, opts), want);
          assert.deepEqual(parseWhole(stream, opts), want);
          assert.deepEqual(parseBytewise(stream, opts), want);
        },
      ),
      { numRuns: 300 },
    );
  });
});
