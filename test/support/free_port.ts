import net from 'node:net';

/**
 * A port nobody listens on: bound to 0 on `host`, then released. The OS may
 * hand the same port out again later; callers that need distinct ports over a
 * whole run keep track of what they took (test/cluster/helpers.ts does).
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
