import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchConfigError, parseDuration, parseOps, parseRate, resolveConfig } from '../../../node/src/bench/config.js';

function rejects(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof BenchConfigError && message.test(err.message));
}

describe('bench config parsing', () => {
  it('parses a full set of flags', () => {
    const cfg = resolveConfig({
      targets: '127.0.0.1:6379,127.0.0.1:6380', protocol: 'resp', ops: 'get:2,put:10,get_own_puts:3', keys: 'pareto:100000',
      valueSize: 'random:10-200', workers: '16', duration: '60s', rate: '500/s', out: 'bench-results/run1', seed: '42',
      reportInterval: '500ms', shutdownOnError: true, bucket: 'b',
    });
    assert.deepEqual(cfg.targets, ['127.0.0.1:6379', '127.0.0.1:6380']);
    assert.deepEqual(cfg.ops, [{ op: 'get', weight: 2 }, { op: 'put', weight: 10 }, { op: 'get_own_puts', weight: 3 }]);
    assert.deepEqual(cfg.keys, { kind: 'pareto', n: 100000 });
    assert.deepEqual(cfg.valueSize, { kind: 'random', min: 10, max: 200 });
    assert.equal(cfg.workers, 16);
    assert.equal(cfg.durationMs, 60_000);
    assert.equal(cfg.rate, 500);
    assert.equal(cfg.seed, 42);
    assert.equal(cfg.reportIntervalMs, 500);
    assert.equal(cfg.shutdownOnError, true);
    assert.equal(cfg.bucket, 'b');
  });

  it('fills defaults, with the protocol deciding the default port', () => {
    const cfg = resolveConfig({ protocol: 'http', targets: 'localhost' });
    assert.deepEqual(cfg.targets, ['localhost:8098']);
    assert.equal(cfg.rate, 'max');
    assert.equal(cfg.charts, true);
    assert.deepEqual(resolveConfig({}).targets, ['127.0.0.1:6379']);
    assert.match(resolveConfig({}, new Date(2024, 0, 2, 3, 4, 5)).out, /^bench-results\/20240102-030405$/);
  });

  it('rejects a bad --ops with a clear message', () => {
    rejects(() => parseOps('gett:1'), /^--ops: unknown operation "gett" \(known: get, put, delete, get_own_puts, update\)$/);
    rejects(() => parseOps('get:x'), /^--ops: the weight of "get" must be a positive integer, got "x"$/);
    rejects(() => parseOps('get:0'), /positive integer/);
    rejects(() => parseOps('get:1,,put:1'), /^--ops: expected op:weight/);
    rejects(() => parseOps('get:1,get:2'), /given twice/);
    assert.deepEqual(parseOps('get'), [{ op: 'get', weight: 1 }]);
  });

  it('rejects a bad --keys with a clear message', () => {
    rejects(() => resolveConfig({ keys: 'zipf:100' }), /^--keys: expected uniform\|pareto\|sequential\|partitioned:N such as uniform:100000, got "zipf:100"$/);
    rejects(() => resolveConfig({ keys: 'uniform' }), /^--keys: expected/);
    rejects(() => resolveConfig({ keys: 'uniform:0' }), /^--keys: the key count N must be a positive integer, got "0"$/);
    rejects(() => resolveConfig({ keys: 'partitioned:4', workers: '8' }), /^--keys: partitioned:4 gives some of the 8 workers no keys/);
  });

  it('rejects a bad duration with a clear message', () => {
    rejects(() => resolveConfig({ duration: 'ten' }), /^--duration: expected a positive duration like 60s, 5m, 1h or 500ms, got "ten"$/);
    rejects(() => parseDuration('0s'), /^--duration: /);
    rejects(() => parseDuration('5d'), /^--duration: /);
    rejects(() => resolveConfig({ reportInterval: '-1s' }), /^--report-interval: /);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1h'), 3_600_000);
  });

  it('rejects other bad settings', () => {
    rejects(() => parseRate('fast'), /^--rate: expected max or N\/s/);
    rejects(() => resolveConfig({ valueSize: 'random:20-10' }), /^--value-size: MIN must not exceed MAX/);
    rejects(() => resolveConfig({ valueSize: 'big' }), /^--value-size: expected fixed:BYTES or random:MIN-MAX/);
    rejects(() => resolveConfig({ protocol: 'grpc' }), /^--protocol: expected resp or http, got "grpc"$/);
    rejects(() => resolveConfig({ workers: '0' }), /^--workers: /);
    rejects(() => resolveConfig({ targets: 'a:99999' }), /^--targets: expected host:port/);
    rejects(() => resolveConfig({ seed: 'abc' }), /^--seed: /);
    assert.equal(parseRate('250'), 250);
  });

  it('reads a YAML file, and flags override it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-bench-cfg-'));
    const file = path.join(dir, 'bench.yaml');
    fs.writeFileSync(file, 'targets: [127.0.0.1:7000, 127.0.0.1:7001]\nops: {get: 3, put: 1}\nvalue_size: fixed:10\nworkers: 2\nduration: 5s\nshutdown-on-error: true\n');
    const cfg = resolveConfig({ config: file, workers: '6' });
    assert.deepEqual(cfg.targets, ['127.0.0.1:7000', '127.0.0.1:7001']);
    assert.deepEqual(cfg.ops, [{ op: 'get', weight: 3 }, { op: 'put', weight: 1 }]);
    assert.deepEqual(cfg.valueSize, { kind: 'fixed', bytes: 10 });
    assert.equal(cfg.workers, 6);
    assert.equal(cfg.durationMs, 5000);
    assert.equal(cfg.shutdownOnError, true);
    fs.writeFileSync(file, 'wokers: 2\n');
    rejects(() => resolveConfig({ config: file }), /^--config: unknown setting "wokers"/);
    rejects(() => resolveConfig({ config: path.join(dir, 'missing.yaml') }), /^--config: cannot read/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
