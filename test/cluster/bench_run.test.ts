import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeConfig } from '../../node/src/config/node_config.js';
import { testNodeConfig } from '../support/node_config.js';
import { startNode, type RkvNode } from '../../node/src/node.js';
import { resolveConfig } from '../../node/src/bench/config.js';
import { runBench } from '../../node/src/bench/runner.js';
import { renderCharts } from '../../node/src/bench/charts.js';
import { OP_CSV_HEADER, SUMMARY_CSV_HEADER, type Summary } from '../../node/src/bench/report.js';

const MAIN = fileURLToPath(new URL('../../node/src/cli/main.js', import.meta.url));
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function nodeConfig(dataDir: string): NodeConfig {
  return testNodeConfig(dataDir, { maxValueSize: 16 * 1024 * 1024, clusterName: 'rkv' });
}

/** Async, not spawnSync: the node under test runs in this process and must keep serving. */
function rkv(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RKV_')));
  const child = spawn(process.execPath, [MAIN, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port nothing listens on: bound once by the OS, then released. */
async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function readSummary(dir: string): Summary {
  return JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
}

function checkRun(dir: string, ops: string[]): void {
  for (const op of ops) {
    const [header, ...rows] = fs.readFileSync(path.join(dir, `${op}.csv`), 'utf8').trim().split('\n');
    assert.equal(header, OP_CSV_HEADER, `${op}.csv header`);
    assert.ok(rows.some((r) => Number(r.split(',')[2]) > 0), `${op}.csv has a row with n > 0`);
  }
  assert.equal(fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8').split('\n')[0], SUMMARY_CSV_HEADER);
  const summary = readSummary(dir);
  assert.equal(summary.outcome, 'completed');
  assert.ok(summary.totals.ops > 0);
  assert.equal(summary.totals.errors, 0, JSON.stringify(summary.totals.errors_by_kind));
  for (const op of ops) assert.ok(summary.ops[op]!.ops > 0, `${op} ran`);
  for (const chart of [...ops.map((op) => `latency_${op}`), 'throughput']) {
    assert.ok(fs.readFileSync(path.join(dir, `${chart}.svg`), 'utf8').startsWith('<svg'), `${chart}.svg`);
    const png = path.join(dir, `${chart}.png`);
    if (fs.existsSync(png)) assert.deepEqual(fs.readFileSync(png).subarray(0, 8), PNG_MAGIC, `${chart}.png`);
  }
}

describe('rkv bench against a real node', () => {
  let node: RkvNode;
  let dataDir: string;
  let outDir: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-bench-node-'));
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-bench-out-'));
    node = await startNode(nodeConfig(dataDir));
  });

  after(async () => {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('resp: the CLI runs a mixed load and writes CSVs, summary and charts', async () => {
    const out = path.join(outDir, 'resp');
    const res = await rkv([
      'bench', '--targets', node.addresses.resp, '--protocol', 'resp', '--ops', 'get:2,put:10,get_own_puts:3',
      '--keys', 'uniform:1000', '--value-size', 'fixed:100', '--workers', '4', '--duration', '2s', '--seed', '42',
      '--report-interval', '500ms', '--out', out,
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /ops\/s/);
    assert.match(res.stderr, /completed in/);
    assert.match(res.stdout, /^get_own_puts\s+\d+/m);
    checkRun(out, ['get', 'put', 'get_own_puts']);
    assert.equal(readSummary(out).config.seed, 42);
  });

  it('http: a run with every operation, in process', async () => {
    const out = path.join(outDir, 'http');
    const cfg = resolveConfig({
      targets: node.addresses.http, protocol: 'http', ops: 'get:2,put:5,get_own_puts:3,update:1,delete:1', keys: 'pareto:1000',
      valueSize: 'random:10-500', workers: '4', duration: '2s', seed: '7', reportInterval: '500ms', out, bucket: 'bench',
    });
    let stderr = '';
    const result = await runBench(cfg, { stderr: { write: (s: string) => (stderr += s) }, charts: renderCharts });
    assert.equal(result.exitCode, 0, result.message);
    assert.match(stderr, /ops\/s/);
    checkRun(out, ['get', 'put', 'get_own_puts', 'update', 'delete']);
    assert.ok(result.summary.ops.get!.not_found >= 0);
  });

  it('a stopped node: the run ends at once, non-zero, with a clear message and the errors counted', async () => {
    const port = await deadPort();
    const out = path.join(outDir, 'down');
    const started = Date.now();
    const res = await rkv(['bench', '--targets', `127.0.0.1:${port}`, '--workers', '4', '--duration', '30s', '--out', out]);
    assert.equal(res.code, 3, res.stderr);
    assert.ok(Date.now() - started < 20_000, 'did not wait out the duration');
    assert.match(res.stderr, new RegExp(`no target reachable: 127\\.0\\.0\\.1:${port} \\(connection_refused`));
    const summary = readSummary(out);
    assert.equal(summary.outcome, 'aborted');
    assert.equal(summary.totals.errors, 4);
    assert.equal(summary.totals.errors_by_kind.connection_refused, 4);
    assert.deepEqual(summary.targets, [{ target: `127.0.0.1:${port}`, reachable: false, error: summary.targets[0]!.error }]);
  });

  it('http against a dead second target: the run goes on and counts its errors', async () => {
    const port = await deadPort();
    const out = path.join(outDir, 'half');
    const cfg = resolveConfig({
      targets: `${node.addresses.http},127.0.0.1:${port}`, protocol: 'http', ops: 'get:1,put:1', workers: '2', duration: '1s', out, charts: false,
    });
    let stderr = '';
    const result = await runBench(cfg, { stderr: { write: (s: string) => (stderr += s) } });
    assert.equal(result.exitCode, 1);
    assert.match(stderr, new RegExp(`warning: 127\\.0\\.0\\.1:${port} unreachable`));
    assert.ok(result.summary.totals.ops > 0);
    assert.ok((result.summary.totals.errors_by_kind.connection_refused ?? 0) > 1);
    assert.match(result.message, /errors: connection_refused/);
  });
});
