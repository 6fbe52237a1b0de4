import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

export interface HttpListener {
  server: http.Server;
  address: AddressInfo;
  close(): Promise<void>;
}

/**
 * The URL carries bucket and key, and a key may be 64 KiB (192 KiB once
 * percent-encoded); node's default 16 KiB header limit would refuse those with
 * 431 before the API could check them.
 */
const MAX_HEADER_BYTES = 512 * 1024;

export function listenHttp(app: RequestListener, port: number, host: string): Promise<HttpListener> {
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new Error(`port ${port} already in use (http listener on ${host})`));
      else reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      resolve({ server, address, close: () => closeServer(server) });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Stops accepting and lets in-flight requests finish. A keep-alive socket whose
 * request finishes after close() turns idle and would hold close() open until
 * keepAliveTimeout, so idle sockets are swept until the server is closed.
 */
function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close((err) => {
      clearInterval(sweep);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
