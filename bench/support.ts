import net from 'node:net';
import type { ChildProcess } from 'node:child_process';

/** Helpers the benchmark scripts share: ports, waiting for a RESP server. */
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
