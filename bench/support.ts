import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Helpers the benchmark scripts share: ports, child processes, temp dirs, waiting for a RESP server. */
export const HOST = '127.0.0.1';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const handedOut = new Set<number>();

/** A port free right now on `host`, never the same one twice in this process (several servers start at once). */
export async function freePort(host = HOST): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, host, () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Whether a RESP server on the port answers PING with +PONG within a second. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, HOST);
    let data = '';
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
    s.on('error', () => done(false));
  });
}

export async function waitForPing(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    if (await ping(port)) return;
    await sleep(200);
  }
  throw new Error(`${what} did not answer PING on port ${port} within 30s`);
}

// ---- child processes and temp dirs, cleaned up however the script ends ------------

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];
const cleanups: (() => void)[] = [];

/** Kills every child still running and removes every temp dir; also runs on exit and on SIGINT/SIGTERM. */
export function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  for (const fn of cleanups.splice(0)) fn();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

/** Runs `fn` as part of cleanup (for state a script tracks itself). */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

/** A temp dir removed at cleanup. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Spawns a child killed at cleanup; RKV_* from the caller's shell never leak into the nodes under test. */
export function startChild(cmd: string, args: string[]): ChildProcess {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RKV_')));
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A throwaway redis-server (no persistence), the reference the benchmarks compare against. */
export async function startRedis(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = startChild('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no']);
  await waitForPing(port, child, 'redis-server');
  return { port, child };
}

/** Runs a benchmark's main, cleans up, and exits 0 or (after printing the error) 1. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => {
      cleanup();
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      cleanup();
      process.exit(1);
    },
  );
}
