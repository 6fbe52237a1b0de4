/**
 * HTTP driver: one keep-alive undici Client (a single connection, no
 * pipelining) per worker, mirroring the RESP driver's connection per worker.
 * undici's request() rather than fetch: less client overhead per call, so
 * the numbers measure the server more than the load generator.
 */
import { Client } from 'undici';
import { classify, OpError, serverKind, type Driver, type DriverOptions, type ReadResult } from './driver.js';

type Body = { text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer>; dump(): Promise<void> };

async function statusError(status: number, body: Body): Promise<OpError> {
  const text = await body.text().catch(() => '');
  let code = '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed && typeof parsed.error === 'string') code = parsed.error;
  } catch {
    // not JSON: the status alone names the error
  }
  return new OpError(serverKind(code) ?? `http_${status}`, `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
}

export class HttpDriver implements Driver {
  readonly target: string;
  private readonly client: Client;
  private readonly prefix: string;

  constructor(opts: DriverOptions) {
    this.target = opts.target;
    this.prefix = `/buckets/${encodeURIComponent(opts.bucket)}/keys/`;
    this.client = new Client(`http://${opts.target}`, {
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: { timeout: opts.timeoutMs },
    });
  }

  private async call(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: Buffer, context?: string) {
    try {
      const headers: Record<string, string> = body ? { 'content-type': 'application/octet-stream' } : {};
      if (context) headers['x-riak-vclock'] = context;
      return await this.client.request({ method, path, headers, ...(body ? { body } : {}) });
    } catch (err) {
      throw classify(err);
    }
  }

  async connect(): Promise<void> {
    const res = await this.call('GET', '/ping');
    if (res.statusCode !== 200) throw await statusError(res.statusCode, res.body);
    await res.body.dump();
  }

  async get(key: string): Promise<ReadResult> {
    const res = await this.call('GET', this.prefix + encodeURIComponent(key));
    const vclock = res.headers['x-riak-vclock'];
    const context = typeof vclock === 'string' ? vclock : undefined;
    if (res.statusCode === 200) return { value: Buffer.from(await res.body.arrayBuffer()), context };
    if (res.statusCode === 404 || res.statusCode === 300) {
      await res.body.dump();
      return res.statusCode === 404 ? { value: null } : { value: null, siblings: true, context };
    }
    throw await statusError(res.statusCode, res.body);
  }

  async put(key: string, value: Buffer, context?: string): Promise<void> {
    const res = await this.call('PUT', this.prefix + encodeURIComponent(key), value, context);
    if (res.statusCode >= 300) throw await statusError(res.statusCode, res.body);
    await res.body.dump();
  }

  async delete(key: string): Promise<void> {
    const res = await this.call('DELETE', this.prefix + encodeURIComponent(key));
    if (res.statusCode >= 300 && res.statusCode !== 404) throw await statusError(res.statusCode, res.body);
    await res.body.dump();
  }

  async close(): Promise<void> {
    await this.client.destroy();
  }
}
