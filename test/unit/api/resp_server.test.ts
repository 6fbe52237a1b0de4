import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { NodeConfig } from '../../../node/src/config/node_config.js';
import { testNodeConfig } from '../../support/node_config.js';
import { startNode, type NodeDeps, type RkvNode } from '../../../node/src/node.js';

const MAX_VALUE = 1024 * 1024;

function testConfig(dataDir: string): NodeConfig {
  return testNodeConfig(dataDir, { maxValueSize: MAX_VALUE });
}

const hasRedisCli = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
const run = promisify(execFile);

/** Sends raw bytes and collects what comes back until the server closes or `until` matches. */
function raw(port: number, send: Buffer | string | (Buffer | string)[], until?: RegExp, timeoutMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => {
      for (const part of Array.isArray(send) ? send : [send]) sock.write(part);
    });
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (until?.test(text)) done(false);
    });
    sock.on('close', () => done(true));
    sock.on('error', reject);
  });
}

/**
 * A node of its own for the enclosing describe block: started before its
 * tests; stopped, and its data dir removed, after them (after the block's own
 * after hooks registered before this call).
 */
function nodeForSuite(prefix: string, config: (dataDir: string) => NodeConfig, deps?: NodeDeps): { readonly node: RkvNode; readonly port: number } {
  let node: RkvNode | undefined;
  let dataDir: string | undefined;
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    node = await startNode(config(dataDir), deps);
  });
  after(async () => {
    await node?.stop();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    get node(): RkvNode {
      return node!;
    },
    get port(): number {
      return Number(node!.addresses.resp.split(':').pop());
    },
  };
}

describe('RESP server against a real node', () => {
  let clock = 1_700_000_000_000;
  const clients: Redis[] = [];
  after(() => {
    for (const c of clients) c.disconnect();
  });
  const suite = nodeForSuite('rkv-resp-', testConfig, { now: () => clock });
  let port = 0;
  before(() => {
    port = suite.port;
  });
  const client = (opts: Record<string, unknown> = {}): Redis => {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0, ...opts });
    clients.push(c);
    return c;
  };

  it('serves the basic data commands to ioredis', async () => {
    const r = client();
    assert.equal(await r.set('foo', 'bar'), 'OK');
    assert.equal(await r.get('foo'), 'bar');
    assert.equal(await r.get('nope'), null);
    assert.equal(await r.set('foo', 'baz', 'NX'), null);
    assert.equal(await r.set('new', '1', 'XX'), null);
    assert.equal(await r.set('new', '1', 'NX'), 'OK');
    assert.equal(await r.set('new', '2', 'XX'), 'OK');
    assert.equal(await r.mset('a', '1', 'b', '2', 'c', '3'), 'OK');
    assert.deepEqual(await r.mget('a', 'nope', 'c', 'a'), ['1', null, '3', '1']);
    assert.equal(await r.exists('a', 'b', 'nope', 'a'), 3);
    assert.equal(await r.del('a', 'b', 'nope', 'a'), 2);
    assert.equal(await r.exists('a', 'b'), 0);
    const bin = Buffer.from([0, 1, 2, 13, 10, 255]);
    await r.set(Buffer.from('bin\r\nkey'), bin);
    assert.deepEqual(await r.getBuffer(Buffer.from('bin\r\nkey')), bin);
    assert.equal(await r.del(Buffer.from('bin\r\nkey')), 1);
    assert.equal(await r.ping(), 'PONG');
    assert.equal(await r.echo('hi'), 'hi');
    assert.equal(await r.select(0), 'OK');
    await assert.rejects(r.select(1), /DB index is out of range/);
  });

  it('expires keys set with EX and PX on the injected clock', async () => {
    const r = client();
    await r.set('ttl', 'v', 'EX', 10);
    await r.set('pttl', 'v', 'PX', 500);
    assert.equal(await r.get('ttl'), 'v');
    clock += 600;
    assert.equal(await r.get('pttl'), null);
    assert.equal(await r.get('ttl'), 'v');
    clock += 10_000;
    assert.equal(await r.get('ttl'), null);
    assert.equal(await r.exists('ttl'), 0);
  });

  it('answers a pipeline of 1000 commands in order, reads seeing earlier writes', async () => {
    const r = client();
    const p = r.pipeline();
    for (let i = 0; i < 250; i++) {
      p.set(`p:${i % 10}`, String(i));
      p.get(`p:${i % 10}`);
      p.echo(`e${i}`);
      p.exists(`p:${i % 10}`, 'p:none');
    }
    const res = await p.exec();
    assert.ok(res);
    assert.equal(res.length, 1000);
    for (let i = 0; i < 250; i++) {
      assert.deepEqual(res[4 * i], [null, 'OK']);
      assert.deepEqual(res[4 * i + 1], [null, String(i)]);
      assert.deepEqual(res[4 * i + 2], [null, `e${i}`]);
      assert.deepEqual(res[4 * i + 3], [null, 1]);
    }
  });

  it('holds the replies of a client that does not read, serving others meanwhile, then delivers them all in order', async () => {
    const big = 'x'.repeat(100 * 1024);
    await client().set('bp:big', big);
    const count = 600;
    const cmd = '*2\r\n$3\r\nGET\r\n$6\r\nbp:big\r\n';
    const reply = `$${big.length}\r\n${big}\r\n`;
    // a raw client that sends 60 MB worth of GETs and reads nothing for a while
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    sock.pause();
    sock.write(cmd.repeat(count));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await client().ping(), 'PONG', 'another client is answered while replies pile up');
    let got = 0;
    let text = '';
    await new Promise<void>((resolve, reject) => {
      sock.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        // check and drop whole replies as they arrive
        while (text.length >= reply.length) {
          assert.equal(text.slice(0, reply.length), reply, `reply ${got + 1} intact and in order`);
          text = text.slice(reply.length);
          if (++got === count) resolve();
        }
      });
      sock.on('error', reject);
      sock.resume();
    });
    assert.equal(text, '');
    sock.destroy();
  });

  it('lists keys with KEYS and SCAN, counts them with DBSIZE', async () => {
    const r = client();
    await r.mset('scan:1', 'a', 'scan:2', 'b', 'scan:30', 'c', 'other', 'd');
    assert.deepEqual((await r.keys('scan:?')).sort(), ['scan:1', 'scan:2']);
    assert.deepEqual((await r.keys('scan:[23]*')).sort(), ['scan:2', 'scan:30']);
    const seen: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', 'scan:*', 'COUNT', 2);
      seen.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    assert.deepEqual(seen.sort(), ['scan:1', 'scan:2', 'scan:30']);
    const all = await r.keys('*');
    assert.equal(await r.dbsize(), all.length);
    await assert.rejects(r.scan('abc'), /invalid cursor/);
    assert.match(await r.info('keyspace'), new RegExp(`db0:keys=${all.length},`));
  });

  it('speaks RESP3 after HELLO 3', async () => {
    const { text } = await raw(port, '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n', /%1\r\n\$4\r\nsave\r\n\$0\r\n\r\n$/);
    assert.match(text, /^%7\r\n\$6\r\nserver\r\n\$3\r\nrkv\r\n/);
    assert.match(text, /\$5\r\nproto\r\n:3\r\n/);
    assert.match(text, /\$4\r\nmode\r\n\$10\r\nstandalone\r\n\$4\r\nrole\r\n\$6\r\nmaster\r\n\$7\r\nmodules\r\n\*0\r\n_\r\n%1\r\n/);
  });

  it('refuses garbage with a protocol error, closing only that connection', async () => {
    const other = client();
    await other.set('survivor', 'intact');
    const { text, closed } = await raw(port, Buffer.from([0x2a, 0xff, 0xfe, 0x00, 0x0d, 0x0a, 0x47]));
    assert.equal(text, '-ERR Protocol error: invalid multibulk length\r\n');
    assert.ok(closed);
    const bulk = await raw(port, '*1\r\n$-1\r\nPING\r\n');
    assert.deepEqual(bulk, { text: '-ERR Protocol error: invalid bulk length\r\n', closed: true });
    assert.equal(await other.get('survivor'), 'intact');
    assert.equal(await other.ping(), 'PONG');
  });

  it('answers unknown commands and wrong arity without closing', async () => {
    const { text, closed } = await raw(port, 'FOO a b\r\nGET\r\n*2\r\n$4\r\nPING\r\n$2\r\nok\r\n', /\$2\r\nok\r\n$/);
    assert.equal(text, "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n-ERR wrong number of arguments for 'get' command\r\n$2\r\nok\r\n");
    assert.equal(closed, false);
  });

  it('refuses a value over maxValueSize and keeps the connection', async () => {
    const r = client();
    await assert.rejects(r.set('big', Buffer.alloc(MAX_VALUE + 1, 1)), new RegExp(`value too large \\(${MAX_VALUE + 1} bytes, max ${MAX_VALUE}\\)`));
    assert.equal(await r.get('big'), null);
    await r.set('big', Buffer.alloc(MAX_VALUE, 1));
    assert.equal((await r.getBuffer('big'))?.length, MAX_VALUE);
    assert.equal(await r.ping(), 'PONG');
  });

  it('closes after QUIT, ignoring what follows', async () => {
    const { text, closed } = await raw(port, 'SET q 1\r\nQUIT\r\nSET q 2\r\n');
    assert.equal(text, '+OK\r\n+OK\r\n');
    assert.ok(closed);
    assert.equal(await client().get('q'), '1');
  });

  it('handles the CLIENT and COMMAND commands clients send', async () => {
    const r = client({ connectionName: 'tester' });
    assert.equal(await r.client('GETNAME'), 'tester');
    assert.equal(typeof (await r.client('ID')), 'number');
    assert.ok(Number(await r.call('COMMAND', 'COUNT')) >= 19);
    assert.deepEqual(await r.call('COMMAND', 'DOCS'), []);
    assert.deepEqual(await r.config('GET', 'appendonly'), ['appendonly', 'no']);
  });

  it('works with redis-cli', { skip: !hasRedisCli && 'redis-cli not installed' }, async () => {
    const cli = async (...args: string[]): Promise<string> => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();
    assert.equal(await cli('set', 'cli:foo', '42'), 'OK');
    assert.equal(await cli('get', 'cli:foo'), '42');
    assert.equal(await cli('set', 'cli:bar', 'x', 'px', '100000'), 'OK');
    const keys = await client().keys('*');
    assert.deepEqual((await cli('--scan')).split('\n').sort(), keys.sort());
    assert.deepEqual((await cli('--scan', '--pattern', 'cli:*')).split('\n').sort(), ['cli:bar', 'cli:foo']);
    assert.equal(await cli('dbsize'), String(keys.length));
    assert.equal(await cli('-3', 'get', 'cli:none'), '');
    assert.match(await cli('-3', 'hello', '3'), /server\s*\n?.*rkv/);
    assert.match(await cli('info', 'server'), /redis_version:/);
    assert.match(await cli('nosuchcmd'), /ERR unknown command 'nosuchcmd'/);
  });
});

describe('RESP request latency of pipelined commands', () => {
  const suite = nodeForSuite('rkv-resp-timing-', testConfig);

  /** count and sum of rkv_request_duration_seconds for one RESP op */
  async function latency(op: string): Promise<{ count: number; sum: number }> {
    const text = await (await fetch(`http://${suite.node.addresses.http}/metrics`)).text();
    const value = (kind: string): number => {
      const m = new RegExp(`^rkv_request_duration_seconds_${kind}\\{api="resp",op="${op}"\\} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    return { count: value('count'), sum: value('sum') };
  }

  it('times every command of a pipeline once, and no command for longer than the pipeline took', async () => {
    const port = suite.port;
    const n = 300;
    let pipeline = '';
    for (let i = 0; i < n; i++) pipeline += `*3\r\n$3\r\nSET\r\n$6\r\nt:${String(i).padStart(4, '0')}\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$6\r\nt:${String(i).padStart(4, '0')}\r\n`;
    // a keyspace command in the middle waits for what came before it and finishes later
    pipeline += '*1\r\n$6\r\nDBSIZE\r\n';
    const before = { set: await latency('set'), get: await latency('get'), dbsize: await latency('dbsize') };
    const t0 = performance.now();
    const { text } = await raw(port, pipeline, /:\d+\r\n$/);
    const elapsed = (performance.now() - t0) / 1000;
    assert.equal(text, '+OK\r\n$1\r\nv\r\n'.repeat(n) + `:${n}\r\n`);
    const after = { set: await latency('set'), get: await latency('get'), dbsize: await latency('dbsize') };
    assert.equal(after.set.count - before.set.count, n);
    assert.equal(after.get.count - before.get.count, n);
    assert.equal(after.dbsize.count - before.dbsize.count, 1);
    // timed back to back: together they took no longer than the client waited for them
    const sum = after.set.sum - before.set.sum + (after.get.sum - before.get.sum);
    assert.ok(sum > 0 && sum <= elapsed, `the commands' durations add up to ${sum} s, the pipeline took ${elapsed} s`);
  });
});

describe('RESP server with a password', () => {
  const suite = nodeForSuite('rkv-resp-auth-', (dataDir) => ({ ...testConfig(dataDir), requirePass: 'pw' }));

  it('requires AUTH before data commands', async () => {
    const port = suite.port;
    const { text } = await raw(port, 'GET k\r\nPING\r\nAUTH wrong\r\nAUTH pw\r\nGET k\r\n', /\$-1\r\n$/);
    assert.equal(text, '-NOAUTH Authentication required.\r\n+PONG\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$-1\r\n');
    const r = new Redis({ port, host: '127.0.0.1', password: 'pw' });
    try {
      assert.equal(await r.set('k', 'v'), 'OK');
      assert.equal(await r.get('k'), 'v');
    } finally {
      r.disconnect();
    }
  });

  it('closes idle clients when the node stops', async () => {
    const { node, port } = suite;
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => sock.once('data', resolve).write('PING\r\n'));
    const closed = new Promise((resolve) => sock.once('close', resolve));
    sock.on('error', () => undefined);
    const t0 = Date.now();
    await node.stop();
    await closed;
    assert.ok(Date.now() - t0 < 3000);
  });
});

describe('RESP server on RocksDB with n_val 3 (GETs answered from cached rows)', () => {
  const suite = nodeForSuite('rkv-resp-rocks-', (dataDir) => ({ ...testConfig(dataDir), backend: 'rocksdb' }));

  it('every GET sees the writes before it, on its own connection and on others', async () => {
    const port = suite.port;
    const a = new Redis({ port, host: '127.0.0.1' });
    const b = new Redis({ port, host: '127.0.0.1' });
    try {
      // pipelined: each GET right behind the write it must see, with the rows already cached
      const p = a.pipeline();
      for (let i = 0; i < 200; i++) {
        if (i % 10 === 9) p.del('hot');
        else p.set('hot', `v${i}`);
        p.get('hot');
      }
      const replies = ((await p.exec()) ?? []).map(([err, v]) => (err ? err.message : v));
      for (let i = 0; i < 200; i++) assert.equal(replies[2 * i + 1], i % 10 === 9 ? null : `v${i}`, `GET after write ${i}`);
      // another connection, after each acknowledged write
      for (let i = 0; i < 50; i++) {
        await a.set('shared', `s${i}`);
        assert.equal(await b.get('shared'), `s${i}`);
      }
      await a.del('shared');
      assert.equal(await b.get('shared'), null);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});
