import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from '../../support/free_port.js';
import { decodeContext } from '../../../node/src/object/codec.js';

/**
 * `rkv start` as a user runs it: a real process, a RocksDB data dir, clean
 * shutdown on SIGTERM, data surviving a restart, and one clear stderr line for
 * each kind of bad configuration.
 */
const MAIN = fileURLToPath(new URL('../../../node/src/cli/main.js', import.meta.url));

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RKV_')));
}


async function ports(): Promise<string[]> {
  return ['--resp-port', String(await freePort()), '--http-port', String(await freePort()), '--cluster-port', String(await freePort())];
}

function runToExit(args: string[]): { code: number | null; stderr: string } {
  const res = spawnSync(process.execPath, [MAIN, 'start', '--log-level', 'warn', ...args], { encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { code: res.status, stderr: res.stderr };
}

/** Nodes still running when the file ends (a test failed before stopping its own) are killed. */
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

function startNode(args: string[]): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN, 'start', '--log-level', 'warn', ...args], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  const exited = new Promise<number | null>((r) =>
    child.on('exit', (code) => {
      running.delete(child);
      r(code);
    }),
  );
  return { child, exited };
}

async function waitReady(httpPort: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('node did not become ready');
}

/** Starts a node with `args` (as ports() lays them out) and connects a client once it is ready. */
async function startConnected(args: string[]): Promise<{ node: ReturnType<typeof startNode>; redis: Redis }> {
  const node = startNode(args);
  await waitReady(args[args.indexOf('--http-port') + 1]!);
  const redis = new Redis({ port: Number(args[args.indexOf('--resp-port') + 1]), host: '127.0.0.1', lazyConnect: true });
  await redis.connect();
  return { node, redis };
}

/** The actors in the causal context an HTTP write of one fixed key answers with, and their counters. */
async function writeClock(args: string[]): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${args[args.indexOf('--http-port') + 1]}/buckets/b/keys/actors`, { method: 'PUT', body: 'x' });
  assert.equal(res.status, 204);
  return { ...decodeContext(res.headers.get('x-riak-vclock') ?? undefined) };
}

describe('rkv start lifecycle', () => {
  it('keeps a value across SIGTERM and restart, exiting 0 each time', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rkv-start-'));
    const args = [...(await ports()), '--data-dir', dataDir, '--ring-size', '16'];
    const first = await startConnected(args);
    assert.equal(await first.redis.set('foo', '42'), 'OK');
    const before = await writeClock(args);
    first.redis.disconnect();
    first.node.child.kill('SIGTERM');
    assert.equal(await first.node.exited, 0);

    const again = await startConnected(args);
    assert.equal(await again.redis.get('foo'), '42');
    // after a clean shutdown the node's writes go on under the same DVV actors (clocks do not grow)
    const [actor] = Object.keys(before);
    const after = await writeClock(args);
    assert.deepEqual(Object.keys(after), [actor]);
    assert.ok(after[actor!]! > before[actor!]!);
    again.redis.disconnect();
    again.node.child.kill('SIGINT');
    assert.equal(await again.node.exited, 0);
  });

  it('keeps every acknowledged SET when killed with SIGKILL right after the replies', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rkv-start-'));
    const args = [...(await ports()), '--data-dir', dataDir, '--ring-size', '16', '--n-val', '3'];
    const first = await startConnected(args);
    // distinct keys, and one hot key rewritten many times while its earlier writes are still in flight
    const p = first.redis.pipeline();
    for (let i = 0; i < 300; i++) p.set(`key:${i}`, `value ${i}`).set('hot', `hot ${i}`);
    const replies = (await p.exec())!;
    assert.ok(replies.every(([err, r]) => err === null && r === 'OK'));
    const before = await writeClock(args);
    first.node.child.kill('SIGKILL');
    await first.node.exited;
    first.redis.disconnect();

    const again = await startConnected(args);
    const values = await again.redis.mget(...Array.from({ length: 300 }, (_, i) => `key:${i}`));
    assert.deepEqual(values, Array.from({ length: 300 }, (_, i) => `value ${i}`));
    assert.equal(await again.redis.get('hot'), 'hot 299');
    // after a crash a write may have reached other replicas and not the disk: the node writes as new actors
    const after = await writeClock(args);
    const [actor] = Object.keys(before);
    assert.equal(after[actor!], before[actor!]);
    assert.equal(Object.keys(after).length, 2, `a new actor besides ${actor}: ${JSON.stringify(after)}`);
    again.redis.disconnect();
    again.node.child.kill('SIGTERM');
    assert.equal(await again.node.exited, 0);
  });

  it('refuses a data dir created with another ring size', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rkv-start-'));
    const args = [...(await ports()), '--data-dir', dataDir];
    const node = startNode([...args, '--ring-size', '16']);
    await waitReady(args[3]!);
    node.child.kill('SIGTERM');
    assert.equal(await node.exited, 0);
    const { code, stderr } = runToExit([...args, '--ring-size', '32']);
    assert.notEqual(code, 0);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /was created with ring size 16, not 32/);
  });

  it('refuses a port in use with one clear line', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    try {
      const { code, stderr } = runToExit(['--resp-port', String(port), '--http-port', String(await freePort()), '--cluster-port', String(await freePort()), '--data-dir', mkdtempSync(join(tmpdir(), 'rkv-start-')), '--backend', 'memory']);
      assert.notEqual(code, 0);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr, new RegExp(`port ${port} already in use`));
    } finally {
      busy.close();
    }
  });

  it('refuses a data dir that cannot be written', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rkv-start-')), 'not-a-dir');
    writeFileSync(file, 'x');
    const { code, stderr } = runToExit([...(await ports()), '--data-dir', join(file, 'data')]);
    assert.notEqual(code, 0);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /data dir .*not-a-dir\/data/);
  });
});
