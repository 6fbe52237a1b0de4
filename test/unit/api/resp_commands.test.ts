import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { globMatch } from '../../../node/src/api/resp/glob.js';
import { KeyOrder } from '../../../node/src/api/resp/key_order.js';
import { buildTable, CommandRunner, newConnState, type Env } from '../../../node/src/api/resp/commands.js';
import { encodeReply, type Reply } from '../../../node/src/api/resp/writer.js';
import { Metrics } from '../../../node/src/api/metrics.js';
import { UnavailableError, type KvApi } from '../../../node/src/kv/types.js';

describe('glob', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*', '', true],
    ['*', 'anything', true],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hallo', true],
    ['h[a-b]llo', 'hcllo', false],
    ['h\\*llo', 'h*llo', true],
    ['h\\*llo', 'hello', false],
    ['[\\]]', ']', true],
    ['user:*:name', 'user:42:name', true],
    ['user:*:name', 'user:42:age', false],
    ['a*a*a*a*a*a*a*a*b', 'a'.repeat(60), false],
    ['*.txt', 'x.txt', true],
    ['[abc', 'b', true],
  ];
  for (const [p, s, want] of cases) {
    it(`${p} ~ ${s.slice(0, 12)} -> ${want}`, () => assert.equal(globMatch(p, s), want));
  }
  it('nocase', () => {
    assert.ok(globMatch('SAVE', 'save', true));
    assert.ok(!globMatch('SAVE', 'save'));
  });
});

describe('KeyOrder', () => {
  const k = (s: string): Buffer => Buffer.from(s);

  it('lets reads share and makes writes wait for earlier commands on the same key', async () => {
    const o = new KeyOrder();
    const r1 = o.acquire([k('a')], false);
    const r2 = o.acquire([k('a')], false);
    const w = o.acquire([k('a')], true);
    const r3 = o.acquire([k('a')], false);
    const other = o.acquire([k('b')], true);
    assert.equal(r1.wait, null);
    assert.equal(r2.wait, null);
    assert.equal(other.wait, null);
    assert.notEqual(w.wait, null);
    assert.notEqual(r3.wait, null);
    const order: string[] = [];
    void w.wait!.then(() => order.push('w'));
    void r3.wait!.then(() => order.push('r3'));
    o.release(r1.hold);
    await Promise.resolve();
    assert.deepEqual(order, []);
    o.release(r2.hold);
    await Promise.resolve();
    assert.deepEqual(order, ['w']);
    o.release(w.hold);
    await Promise.resolve();
    assert.deepEqual(order, ['w', 'r3']);
    o.release(r3.hold);
    o.release(other.hold);
    assert.equal(o.size, 0);
  });

  it('keyspace commands wait for earlier writes and hold later ones', async () => {
    const o = new KeyOrder();
    const w = o.acquire([k('a')], true);
    const ks = o.acquire(null, false);
    const w2 = o.acquire([k('b')], true);
    assert.notEqual(ks.wait, null);
    assert.notEqual(w2.wait, null);
    o.release(w.hold);
    await ks.wait;
    o.release(ks.hold);
    await w2.wait;
    o.release(w2.hold);
    assert.equal(o.size, 0);
  });
});

/** A KvApi double for dispatcher tests; the real node is exercised in resp_server.test.ts. */
function fakeKv(fail?: Error): KvApi {
  const data = new Map<string, Buffer>();
  const kv: Partial<KvApi> = {
    get: async (_b, key) => {
      if (fail) throw fail;
      const v = data.get(key.toString());
      if (v === undefined) return { found: false };
      const s = { value: v, contentType: 'x', lastModified: 1, deleted: false, dot: ['n', 1] as const };
      return { found: true, object: { clock: { n: 1 }, siblings: [s] }, siblings: [s], context: { n: 1 } };
    },
    put: async (_b, key, content) => {
      data.set(key.toString(), Buffer.from(content.value));
      return { object: { clock: {}, siblings: [] }, context: {} };
    },
  };
  return kv as KvApi;
}

function runner(kv: KvApi, requirePass?: string): { run: (...a: string[]) => Promise<string> } {
  const env: Env = {
    kv,
    metrics: new Metrics(),
    logger: pino({ level: 'silent' }),
    maxValueSize: 1024,
    requirePass,
    info: () => ({ server: { rkv_version: '9.9.9' } }),
    now: () => 1000,
    stats: { connectedClients: 1, connectionsReceived: 1, commandsProcessed: 0, port: 6379 },
    table: buildTable(),
  };
  const r = new CommandRunner(env);
  const conn = newConnState(7, env);
  return { run: async (...a) => encodeReply((await r.run(conn, a.map((x) => Buffer.from(x)))) as Reply, conn.proto).toString('latin1') };
}

describe('CommandRunner', () => {
  it('replies redis-style errors', async () => {
    const { run } = runner(fakeKv());
    assert.equal(await run('foo', 'a', 'b'), "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    assert.equal(await run('GET'), "-ERR wrong number of arguments for 'get' command\r\n");
    assert.equal(await run('SET', 'k', 'v', 'BOGUS'), '-ERR syntax error\r\n');
    assert.equal(await run('SET', 'k', 'v', 'EX', 'x'), '-ERR value is not an integer or out of range\r\n');
    assert.equal(await run('SET', 'k', 'v', 'EX', '0'), "-ERR invalid expire time in 'set' command\r\n");
    assert.equal(await run('SET', 'k', 'v', 'NX', 'XX'), '-ERR syntax error\r\n');
    assert.equal(await run('SELECT', '1'), '-ERR DB index is out of range\r\n');
    assert.equal(await run('CLIENT', 'KILL'), "-ERR unknown subcommand 'KILL'. Try CLIENT HELP.\r\n");
    assert.match(await run('AUTH', 'pw'), /^-ERR AUTH <password> called without any password configured/);
    assert.equal(await run('PING', 'a', 'b'), "-ERR wrong number of arguments for 'ping' command\r\n");
  });

  it('maps quorum failures to -UNAVAILABLE', async () => {
    const { run } = runner(fakeKv(new UnavailableError('r=2 not met (1 replied)', { needed: 2, answered: 1, kind: 'r' })));
    assert.equal(await run('GET', 'k'), '-UNAVAILABLE r=2 not met (1 replied)\r\n');
  });

  it('runs connection commands', async () => {
    const { run } = runner(fakeKv());
    assert.equal(await run('PING'), '+PONG\r\n');
    assert.equal(await run('ping', 'hi'), '$2\r\nhi\r\n');
    assert.equal(await run('CLIENT', 'ID'), ':7\r\n');
    assert.equal(await run('CLIENT', 'GETNAME'), '$-1\r\n');
    assert.equal(await run('CLIENT', 'SETNAME', 'app'), '+OK\r\n');
    assert.equal(await run('CLIENT', 'GETNAME'), '$3\r\napp\r\n');
    assert.equal(await run('CONFIG', 'GET', 'save'), '*2\r\n$4\r\nsave\r\n$0\r\n\r\n');
    assert.equal(await run('CONFIG', 'GET', 'APPEND*'), '*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n');
    assert.equal(await run('COMMAND', 'DOCS'), '*0\r\n');
    assert.match(await run('HELLO', '3'), /^%7\r\n\$6\r\nserver\r\n\$3\r\nrkv\r\n\$7\r\nversion\r\n\$5\r\n9\.9\.9\r\n/);
    assert.equal(await run('GET', 'missing'), '_\r\n');
    assert.equal(await run('HELLO', '4'), '-NOPROTO unsupported protocol version\r\n');
  });

  it('requires AUTH when a password is set', async () => {
    const { run } = runner(fakeKv(), 's3cret');
    assert.equal(await run('GET', 'k'), '-NOAUTH Authentication required.\r\n');
    assert.equal(await run('PING'), '+PONG\r\n');
    assert.match(await run('HELLO', '2'), /^-NOAUTH HELLO must be called/);
    assert.equal(await run('AUTH', 'nope'), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    assert.equal(await run('AUTH', 'default', 's3cret'), '+OK\r\n');
    assert.equal(await run('SET', 'k', 'v'), '+OK\r\n');
    assert.equal(await run('GET', 'k'), '$1\r\nv\r\n');
  });
});
