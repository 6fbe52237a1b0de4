/**
 * `npm run bench:mixed`: starts a throwaway rkv node (memory backend, free
 * ports) and runs a short mixed `rkv bench` workload over RESP against it.
 * Extra arguments go to `rkv bench` and override the defaults, e.g.
 * `npm run bench:mixed -- --duration 60s --protocol http`. Results land in
 * bench-results/mixed-<timestamp>/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const MAIN = fileURLToPath(new URL('../node/src/cli/main.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(httpPort: number, node: ChildProcess): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if (node.exitCode !== null) throw new Error(`rkv node exited with code ${node.exitCode}`);
    const ok = await fetch(`http://${HOST}:${httpPort}/health/ready`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('rkv node not ready within 30s');
}

function exitCode(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-bench-mixed-'));
const [resp, http, cluster] = [await freePort(), await freePort(), await freePort()];
const node = spawn(process.execPath, [MAIN, 'start', '--backend', 'memory', '--data-dir', dataDir, '--resp-port', String(resp),
  '--http-port', String(http), '--cluster-port', String(cluster), '--bind', HOST, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
let code = 1;
try {
  await waitReady(http, node);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const extra = process.argv.slice(2);
  const protocol = extra.includes('http') && extra[extra.indexOf('http') - 1] === '--protocol' ? 'http' : 'resp';
  const bench = spawn(process.execPath, [MAIN, 'bench', '--targets', `${HOST}:${protocol === 'http' ? http : resp}`,
    '--ops', 'get:4,put:2,get_own_puts:2,update:1,delete:1', '--keys', 'pareto:10000', '--value-size', 'random:100-1000',
    '--workers', '8', '--duration', '10s', '--out', `bench-results/mixed-${stamp}`, ...extra], { stdio: 'inherit' });
  code = await exitCode(bench);
} finally {
  node.kill('SIGTERM');
  await exitCode(node);
  fs.rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
