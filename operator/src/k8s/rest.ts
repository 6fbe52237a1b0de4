import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * The Kubernetes REST calls the operator makes, on the KubeConfig's
 * connection and credentials (client-node loads in-cluster config, kubeconfig
 * files, tokens and TLS). Objects travel as the API server sends them:
 * client-node 1.x's typed serializer reshapes them (Dates, dropped unknown
 * fields), which would change what is hashed and applied.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.statusCode === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.statusCode === 409;

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export interface Rest {
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, o?: RequestOptions): Promise<T>;
}

export function restClient(kc: KubeConfig): Rest {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/$/, '');
  return {
    async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
      const url = new URL(server + path);
      for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
      const opts: https.RequestOptions = { method, headers: { Accept: 'application/json' } };
      await kc.applyToHTTPSOptions(opts);
      const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
      if (payload) opts.headers = { ...opts.headers, 'Content-Type': o.contentType ?? 'application/json', 'Content-Length': String(payload.length) };
      const lib = url.protocol === 'https:' ? https : http;
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = lib.request(url, opts, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
        req.on('error', reject);
        req.end(payload);
      });
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (status < 200 || status >= 300) {
        const st = (parsed ?? {}) as { reason?: string; message?: string };
        throw new ApiError(status, st.reason ?? 'Unknown', `${method} ${path}: ${status} ${st.message ?? text.slice(0, 200)}`);
      }
      return parsed as T;
    },
  };
}
