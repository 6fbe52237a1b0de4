import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeConfig } from '../../../node/src/config/node_config.js';
import { testNodeConfig } from '../../support/node_config.js';
import { startNode, type RkvNode } from '../../../node/src/node.js';

function testConfig(dataDir: string): NodeConfig {
  return testNodeConfig(dataDir);
}

function hasPromtool(): boolean {
  const probe = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

describe('/metrics exposition', () => {
  let node: RkvNode;
  let dataDir: string;
  let text: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-metrics-'));
    node = await startNode(testConfig(dataDir));
    const base = `http://${node.addresses.http}`;
    await fetch(`${base}/buckets/m/keys/k`, { method: 'PUT', body: 'v' });
    await fetch(`${base}/buckets/m/keys/k`);
    await fetch(`${base}/buckets/m/keys/k?r=bogus`);
    await fetch(`${base}/ping`);
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    text = await res.text();
  });
  after(async () => {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('labels request latency by low-cardinality operation', () => {
    assert.match(text, /^rkv_request_duration_seconds_bucket\{[^}]*api="http"[^}]*op="get"/m);
    assert.match(text, /^rkv_request_duration_seconds_bucket\{[^}]*api="http"[^}]*op="put"/m);
    assert.match(text, /^rkv_request_errors_total\{api="http",op="get",code="bad_request"\} 1$/m);
    assert.doesNotMatch(text, /buckets\/m/, 'paths never become label values');
  });

  it('passes `promtool check metrics` without a single warning', () => {
    assert.ok(
      hasPromtool(),
      'promtool is not on PATH: install the Debian/Ubuntu `prometheus` package (apt-get install prometheus), as CI does, to run this check',
    );
    const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const output = `${res.stdout}${res.stderr}`.trim();
    assert.equal(output, '', `promtool reported:\n${output}`);
    assert.equal(res.status, 0);
  });
});
