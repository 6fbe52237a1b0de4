/**
 * `rkv dev-cluster`: three children on the documented port scheme, joined
 * with --join, stopped by SIGTERM with exit 0, and started again on the same
 * data dirs (already members: nothing to join).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { callAdmin } from '../../node/src/cli/admin.js';
import { HOST, MAIN, waitFor, type MemberStatus } from './helpers.js';

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

/** A base port whose nine node ports (3 nodes x resp/http/cluster) are all free. */
async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 1000) * 10;
    const ports = [1, 2, 3].flatMap((i) => [0, 1, 2].map((k) => base + 10 * i + k));
    if ((await Promise.all(ports.map(bindable))).every(Boolean)) return base;
  }
  throw new Error('no free port range found');
}

describe('rkv dev-cluster', { timeout: 90_000 }, () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-dev-cluster-'));
  let child: ChildProcess | undefined;
  let out = '';
  after(async () => {
    // SIGTERM, not SIGKILL: only dev-cluster can stop its nodes (they run in their own process groups)
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(timer);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  function run(base: number): Promise<number | null> {
    out = '';
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RKV_')));
    child = spawn(process.execPath, [MAIN, 'dev-cluster', '--nodes', '3', '--join', '--backend', 'rocksdb', '--base-port', String(base), '--data-dir', dataDir, '--log-level', 'warn'], { env });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((r) => child!.once('exit', (code) => r(code)));
  }

  async function converged(base: number): Promise<MemberStatus> {
    return waitFor('three valid members', async (seen) => {
      const ms = (await callAdmin(`http://${HOST}:${base + 11}`, { method: 'GET', path: '/admin/member-status' }, 5000)) as MemberStatus;
      seen({ ms, out: out.slice(-2000) });
      return ms.members.length === 3 && ms.members.every((m) => m.status === 'valid' && m.ringPct === m.pendingPct) ? ms : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
  }

  it('starts, joins and stops three nodes; a second run finds them joined', async () => {
    const base = await freeBase();
    let exited = run(base);
    const ms = await converged(base);
    assert.deepEqual(ms.members.map((m) => m.name), ['rkv1@127.0.0.1', 'rkv2@127.0.0.1', 'rkv3@127.0.0.1']);
    for (const i of [1, 2, 3]) assert.match(out, new RegExp(`rkv${i}@127\\.0\\.0\\.1 +127\\.0\\.0\\.1:${base + 10 * i} +http://127\\.0\\.0\\.1:${base + 10 * i + 1} +127\\.0\\.0\\.1:${base + 10 * i + 2}`));
    assert.match(out, /joined 2 node\(s\) to rkv1@127\.0\.0\.1 and committed/);

    const w = new Redis({ host: HOST, port: base + 20, lazyConnect: true, maxRetriesPerRequest: 1 });
    const r = new Redis({ host: HOST, port: base + 30, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await w.connect();
      await r.connect();
      assert.equal(await w.set('dev', 'cluster'), 'OK');
      assert.equal(await r.get('dev'), 'cluster');
    } finally {
      w.disconnect();
      r.disconnect();
    }

    child!.kill('SIGTERM');
    assert.equal(await exited, 0, out.slice(-3000));
    assert.match(out, /all nodes stopped cleanly/);
    for (const i of [1, 2, 3]) assert.ok(await bindable(base + 10 * i), `rkv${i}'s RESP port released`);

    exited = run(base);
    await converged(base);
    await waitFor('the second run to report', async () => (/already members of one cluster/.test(out) ? true : undefined), { timeoutMs: 10_000 });
    child!.kill('SIGINT');
    assert.equal(await exited, 0, out.slice(-3000));
  });
});
