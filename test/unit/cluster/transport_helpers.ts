import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { Transport, TransportError, type PeerRef, type TransportErrorCode, type TransportOptions } from '../../../node/src/cluster/transport.js';

export const silent: Logger = pino({ level: 'silent' });

/** A logger whose warn+ lines land in `lines`, for asserting on what an operator would see. */
export function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) }), lines };
}

export interface TestNode {
  t: Transport;
  ref: PeerRef;
}

export async function startNode(name: string, opts: Partial<TransportOptions> = {}, port = 0): Promise<TestNode> {
  const t = new Transport({ nodeName: name, clusterName: 'test', logger: silent, backoff: { baseMs: 20, maxMs: 200 }, ...opts });
  const addr = await t.listen(port, '127.0.0.1');
  return { t, ref: { name, address: `127.0.0.1:${addr.port}` } };
}

export async function rejectsWith(p: Promise<unknown>, code: TransportErrorCode, remoteCode?: string): Promise<TransportError> {
  const err = await p.then(
    (v) => assert.fail(`expected ${code}, resolved with ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TransportError, `not a TransportError: ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (remoteCode !== undefined) assert.equal(err.remote?.code, remoteCode, err.message);
  return err;
}

export async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
