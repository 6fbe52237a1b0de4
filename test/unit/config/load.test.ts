import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type ReadFile } from '../../../node/src/config/load.js';
import { MIB, parseSize, START_OPTION_LIST } from '../../../node/src/config/options.js';

const noFile: ReadFile = (path) => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
};
const file = (contents: string): ReadFile => () => contents;

function load(flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}, read: ReadFile = noFile) {
  return loadConfig(flags, env, read, { hostname: 'box.example' });
}

function rejects(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

describe('loadConfig defaults', () => {
  it('matches SPEC section 2', () => {
    const cfg = load();
    assert.equal(cfg.bind, '127.0.0.1');
    assert.equal(cfg.advertise, '127.0.0.1');
    assert.equal(cfg.name, 'rkv@127.0.0.1');
    assert.equal(cfg.respPort, 6379);
    assert.equal(cfg.httpPort, 8098);
    assert.equal(cfg.clusterPort, 8099);
    assert.equal(cfg.dataDir, './data');
    assert.equal(cfg.backend, 'rocksdb');
    assert.equal(cfg.ringSize, 64);
    assert.deepEqual(cfg.bucketDefaults, {
      n_val: 3, r: 'quorum', w: 'quorum', pr: 0, pw: 0, dw: 'quorum', allow_mult: false, last_write_wins: false,
    });
    assert.equal(cfg.clusterSecret, undefined);
    assert.equal(cfg.requirePass, undefined);
    assert.equal(cfg.logLevel, 'info');
    assert.equal(cfg.maxValueSize, 16 * MIB);
    assert.equal(cfg.requestTimeoutMs, 5000);
    assert.equal(cfg.syncWrites, false);
    assert.equal(cfg.clusterName, 'rkv');
  });

  it('derives name from advertise and advertise from bind', () => {
    assert.equal(load({ advertise: 'rkv-0.rkv.default.svc' }).name, 'rkv@rkv-0.rkv.default.svc');
    const cfg = load({ bind: '10.1.2.3' });
    assert.equal(cfg.advertise, '10.1.2.3');
    assert.equal(cfg.name, 'rkv@10.1.2.3');
  });

  it('advertises the host name when bound to a wildcard address', () => {
    const cfg = load({ bind: '0.0.0.0' });
    assert.equal(cfg.advertise, 'box.example');
    assert.equal(cfg.name, 'rkv@box.example');
  });

  it('every option has a derived env var', () => {
    for (const o of START_OPTION_LIST) {
      assert.equal(o.env, `RKV_${o.flag.slice(2).replace(/-/g, '_').toUpperCase()}`);
    }
    assert.ok(START_OPTION_LIST.some((o) => o.flag === '--ring-size' && o.env === 'RKV_RING_SIZE'));
  });
});

describe('loadConfig precedence: flag > env > file > default', () => {
  const yaml = 'ring-size: 256\nrespPort: 7000\nlog-level: debug\nn_val: 5\nsync-writes: true\n';

  it('file beats default', () => {
    const cfg = load({ config: 'rkv.yaml' }, {}, file(yaml));
    assert.equal(cfg.ringSize, 256);
    assert.equal(cfg.respPort, 7000);
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.bucketDefaults.n_val, 5);
    assert.equal(cfg.syncWrites, true);
  });

  it('env beats file', () => {
    const env = { RKV_RING_SIZE: '512', RKV_RESP_PORT: '7001', RKV_SYNC_WRITES: 'false' };
    const cfg = load({ config: 'rkv.yaml' }, env, file(yaml));
    assert.equal(cfg.ringSize, 512);
    assert.equal(cfg.respPort, 7001);
    assert.equal(cfg.syncWrites, false);
    assert.equal(cfg.logLevel, 'debug');
  });

  it('flag beats env and file', () => {
    const env = { RKV_RING_SIZE: '512', RKV_RESP_PORT: '7001', RKV_LOG_LEVEL: 'warn' };
    const cfg = load({ config: 'rkv.yaml', ringSize: '1024', respPort: '7002', syncWrites: false }, env, file(yaml));
    assert.equal(cfg.ringSize, 1024);
    assert.equal(cfg.respPort, 7002);
    assert.equal(cfg.logLevel, 'warn');
    assert.equal(cfg.syncWrites, false);
  });

  it('treats an empty env var as unset', () => {
    assert.equal(load({}, { RKV_RING_SIZE: '' }).ringSize, 64);
  });

  it('takes the config path from RKV_CONFIG', () => {
    let asked = '';
    const cfg = load({}, { RKV_CONFIG: '/etc/rkv.json' }, (p) => ((asked = p), '{"backend": "memory", "clusterName": "blue"}'));
    assert.equal(asked, '/etc/rkv.json');
    assert.equal(cfg.backend, 'memory');
    assert.equal(cfg.clusterName, 'blue');
  });

  it('parses quorum names and numbers from every source', () => {
    const cfg = load({ r: 'one', config: 'f' }, { RKV_W: 'ALL' }, file('pr: 1\npw: quorum\ndw: 2\n'));
    assert.deepEqual(
      [cfg.bucketDefaults.r, cfg.bucketDefaults.w, cfg.bucketDefaults.pr, cfg.bucketDefaults.pw, cfg.bucketDefaults.dw],
      ['one', 'all', 1, 'quorum', 2],
    );
  });

  it('keeps secrets and passwords', () => {
    const cfg = load({ clusterSecret: 's3cret' }, { RKV_REQUIREPASS: 'pw' });
    assert.equal(cfg.clusterSecret, 's3cret');
    assert.equal(cfg.requirePass, 'pw');
  });

  it('accepts port 0 for ephemeral listeners, even several', () => {
    const cfg = load({ respPort: '0', httpPort: '0', clusterPort: '0' });
    assert.deepEqual([cfg.respPort, cfg.httpPort, cfg.clusterPort], [0, 0, 0]);
  });
});

describe('loadConfig validation messages', () => {
  it('ring size not a power of two', () => {
    rejects(() => load({ ringSize: '100' }), '--ring-size must be a power of two between 8 and 1024, got 100');
  });
  it('ring size too large', () => {
    rejects(() => load({ ringSize: '2048' }), '--ring-size must be a power of two between 8 and 1024, got 2048');
  });
  it('names the env var when the bad value came from env', () => {
    rejects(() => load({}, { RKV_RING_SIZE: '4' }), 'RKV_RING_SIZE must be a power of two between 8 and 1024, got 4');
  });
  it('names the file and key when the bad value came from the file', () => {
    rejects(
      () => load({ config: 'rkv.yaml' }, {}, file('ringSize: 100\n')),
      'rkv.yaml: ringSize must be a power of two between 8 and 1024, got 100',
    );
  });
  it('bad port', () => {
    rejects(() => load({ respPort: '70000' }), '--resp-port must be an integer between 0 and 65535, got 70000');
    rejects(() => load({}, { RKV_HTTP_PORT: 'http' }), 'RKV_HTTP_PORT must be an integer between 0 and 65535, got http');
  });
  it('two listeners on one port', () => {
    rejects(() => load({ httpPort: '6379' }), /^--resp-port and --http-port are both 6379/);
  });
  it('bad backend', () => {
    rejects(() => load({ backend: 'leveldb' }), '--backend must be one of rocksdb, memory, got leveldb');
  });
  it('r greater than n_val', () => {
    rejects(() => load({ r: '4' }), '--r must be at most n_val (3), got 4');
    rejects(() => load({ nVal: '2', dw: '3' }), '--dw must be at most n_val (2), got 3');
  });
  it('bad quorum word', () => {
    rejects(() => load({ w: 'most' }), '--w must be an integer >= 1 or one of one, quorum, all, got most');
  });
  it('n_val greater than ring size', () => {
    rejects(() => load({ nVal: '16', ringSize: '8' }), '--n-val must be at most the ring size (8), got 16');
  });
  it('bad log level, name, bool, timeout', () => {
    rejects(() => load({ logLevel: 'loud' }), /^--log-level must be one of trace, debug, info/);
    rejects(() => load({ name: 'rkv' }), '--name must look like name@host, got rkv');
    rejects(() => load({}, { RKV_SYNC_WRITES: 'maybe' }), 'RKV_SYNC_WRITES must be true or false, got maybe');
    rejects(() => load({ requestTimeout: '0' }), '--request-timeout must be an integer between 1 and 3600000, got 0');
  });
  it('unknown file keys are listed', () => {
    rejects(
      () => load({ config: 'rkv.yaml' }, {}, file('ring-size: 64\nringsise: 64\nport: 1\n')),
      /^config file rkv\.yaml: unknown keys "ringsise", "port" /,
    );
  });
  it('the same option twice in a file', () => {
    rejects(() => load({ config: 'c.yaml' }, {}, file('ring-size: 64\nringSize: 128\n')), 'config file c.yaml sets ringSize twice (ring-size and ringSize)');
  });
  it('malformed YAML', () => {
    rejects(() => load({ config: 'bad.yaml' }, {}, file('ring-size: [64\n')), /^config file bad\.yaml is not valid YAML or JSON: /);
  });
  it('malformed JSON', () => {
    rejects(() => load({ config: 'bad.json' }, {}, file('{"ringSize": 64,,}')), /^config file bad\.json is not valid YAML or JSON: /);
  });
  it('a file that is not a mapping', () => {
    rejects(() => load({ config: 'l.yaml' }, {}, file('- 1\n- 2\n')), 'config file l.yaml must be a mapping of option names to values');
  });
  it('missing config file', () => {
    rejects(() => load({ config: 'nope.yaml' }), 'cannot read config file nope.yaml: no such file');
  });
  it('bad size', () => {
    rejects(() => load({ maxValueSize: '16 parsecs' }), /^--max-value-size must be a size like .*got 16 parsecs$/);
    rejects(() => load({ maxValueSize: '1gb' }), /^--max-value-size must be a size like .* between 1 and 512mb, got 1gb$/);
  });
});

describe('sizes', () => {
  it('parses bytes and units', () => {
    assert.equal(parseSize('1048576'), 1048576);
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('64kb'), 64 * 1024);
    assert.equal(parseSize('16mb'), 16 * MIB);
    assert.equal(parseSize('16MiB'), 16 * MIB);
    assert.equal(parseSize('16 MB'), 16 * MIB);
    assert.equal(parseSize('1k'), 1000);
    assert.equal(parseSize('2m'), 2_000_000);
    assert.equal(parseSize('1gb'), 1024 * MIB);
    assert.equal(parseSize('1.5mb'), undefined);
    assert.equal(parseSize('lots'), undefined);
    assert.equal(parseSize(-1), -1 /* range is checked by the option */);
  });
  it('applies to --max-value-size from every source', () => {
    assert.equal(load({ maxValueSize: '1mb' }).maxValueSize, MIB);
    assert.equal(load({}, { RKV_MAX_VALUE_SIZE: '512kb' }).maxValueSize, 512 * 1024);
    assert.equal(load({ config: 'f' }, {}, file('max-value-size: 2048\n')).maxValueSize, 2048);
  });
});
