import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../../node/src/bench/config.js';
import { OpError, type Driver, type ReadResult } from '../../../node/src/bench/drivers/driver.js';
import { Worker, WriteTracker } from '../../../node/src/bench/worker.js';
import { Recorder } from '../../../node/src/bench/histograms.js';
import { Reporter, OP_CSV_HEADER } from '../../../node/src/bench/report.js';
import { compareTable, loadSummary } from '../../../node/src/bench/compare.js';

/** An in-memory store; `lose` makes it drop writes, as a replica that answers stale data would. */
class FakeDriver implements Driver {
  readonly target = 'fake:1';
  lose = false;
  constructor(readonly data = new Map<string, Buffer>()) {}
  async connect(): Promise<void> {}
  async get(key: string): Promise<ReadResult> {
    return { value: this.data.get(key) ?? null };
  }
  async put(key: string, value: Buffer): Promise<void> {
    if (!this.lose) this.data.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async close(): Promise<void> {}
}

const cfg = resolveConfig({ ops: 'get_own_puts:1', keys: 'uniform:5', workers: '2', seed: '1', valueSize: 'fixed:32' });

async function staleReads(worker: Worker, n: number): Promise<number> {
  let stale = 0;
  for (let i = 0; i < n; i++) {
    try {
      await worker.run('get_own_puts');
    } catch (err) {
      assert.ok(err instanceof OpError);
      assert.equal(err.kind, 'stale_read');
      stale++;
    }
  }
  return stale;
}

describe('bench worker get_own_puts', () => {
  it('writes first, then reads its own writes back without complaint', async () => {
    const worker = new Worker(0, new FakeDriver(), cfg, new WriteTracker());
    assert.deepEqual(await worker.run('get_own_puts'), { op: 'put', notFound: false });
    for (let i = 0; i < 20; i++) await worker.run('put');
    assert.equal(await staleReads(worker, 50), 0);
  });

  it('counts a read that does not return the value written as stale_read', async () => {
    const driver = new FakeDriver();
    const worker = new Worker(0, driver, cfg, new WriteTracker());
    for (let i = 0; i < 20; i++) await worker.run('put');
    driver.lose = true;
    for (let i = 0; i < 20; i++) await worker.run('put');
    assert.ok((await staleReads(worker, 50)) > 0);
  });

  it('passes no verdict on a key another worker wrote since', async () => {
    const data = new Map<string, Buffer>();
    const tracker = new WriteTracker();
    const a = new Worker(0, new FakeDriver(data), cfg, tracker);
    const b = new Worker(1, new FakeDriver(data), cfg, tracker);
    for (let i = 0; i < 20; i++) await a.run('put');
    for (let i = 0; i < 20; i++) await b.run('put');
    assert.equal(await staleReads(a, 50), 0);
  });
});

describe('bench report and compare', () => {
  it('writes op CSVs, a summary and compares two runs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-bench-report-'));
    const run = (sub: string, latency: number) => {
      const recorder = new Recorder(['get', 'put']);
      const reporter = new Reporter(path.join(dir, sub), ['get', 'put']);
      for (let i = 0; i < 100; i++) recorder.stats('get').record(latency + i);
      recorder.stats('put').record(latency * 2);
      recorder.stats('put').error('timeout');
      reporter.interval(recorder, 1, 1);
      return reporter.summary(recorder, { tool: 'rkv bench', format: 1, started_at: 'now', elapsed_s: 1, outcome: 'completed', config: cfg, targets: [] });
    };
    const a = run('a', 100);
    run('b', 200);
    const csv = fs.readFileSync(path.join(dir, 'a', 'get.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], OP_CSV_HEADER);
    assert.equal(csv[1]!.split(',')[2], '100');
    assert.equal(a.ops.get!.ops, 100);
    assert.equal(a.totals.errors_by_kind.timeout, 1);
    assert.ok(a.ops.get!.latency_us.p99_9 <= a.ops.get!.latency_us.max);
    const table = compareTable(loadSummary(path.join(dir, 'a')), loadSummary(path.join(dir, 'b', 'summary.json')));
    assert.match(table, /^op\s+metric\s+A\s+B\s+B\/A$/m);
    assert.match(table, /^get\s+p50 us\s+149\s+249\s+1\.67$/m);
    assert.match(table, /^put\s+errors\s+1\s+1\s+1\.00$/m);
    assert.throws(() => loadSummary(path.join(dir, 'a', 'get.csv')), /not an rkv bench summary|cannot read/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
