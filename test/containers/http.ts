/**
 * fetch with a deadline for the container tier. AbortSignal.timeout's timer
 * does not keep the event loop alive, so a process whose only pending work is
 * a hung request would end with "unsettled top-level await" instead of a
 * timeout; this timer does, and it covers reading the body too.
 */
export interface HttpReply {
  status: number;
  headers: Headers;
  body: Buffer;
}

export async function http(url: string, o: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number }): Promise<HttpReply> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(Object.assign(new Error(`${o.method ?? 'GET'} ${url} timed out after ${o.timeoutMs} ms`), { name: 'TimeoutError' })), o.timeoutMs);
  try {
    const res = await fetch(url, { method: o.method ?? 'GET', headers: o.headers ?? {}, body: o.body ?? null, signal: ac.signal });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  } finally {
    clearTimeout(timer);
  }
}
