/**
 * What the runner needs from a protocol: one connection (or keep-alive
 * client) per worker, three primitive operations, and failures reduced to a
 * short error kind that both protocols share where they mean the same thing,
 * so runs over RESP and HTTP compare.
 */
export interface ReadResult {
  /** null when the key is absent (not an error) */
  value: Buffer | null;
  /** more than one value came back (HTTP 300); `value` is then null */
  siblings?: boolean;
  /** causal context to send with the write that follows (HTTP X-Riak-Vclock) */
  context?: string;
}

export interface Driver {
  readonly target: string;
  /** Opens the connection and checks the target answers; throws an OpError. */
  connect(): Promise<void>;
  get(key: string): Promise<ReadResult>;
  put(key: string, value: Buffer, context?: string): Promise<void>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface DriverOptions {
  target: string;
  bucket: string;
  timeoutMs: number;
}

export class OpError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/** Kinds for a failed connection; the runner backs off after these instead of spinning. */
export const CONNECTION_KINDS = new Set(['connection_refused', 'connection_reset', 'connection_closed', 'unreachable', 'dns']);

const CODE_KINDS: Record<string, string> = {
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  UND_ERR_CLOSED: 'connection_closed',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
};

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && e.code in CODE_KINDS) return e.code;
  // Node wraps happy-eyeballs failures in an AggregateError, fetch in `cause`.
  if (Array.isArray(e.errors)) for (const inner of e.errors) if (errorCode(inner)) return errorCode(inner);
  return e.cause === undefined ? undefined : errorCode(e.cause);
}

export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errorMessage(err.errors[0]);
  return err instanceof Error ? err.message || err.name : String(err);
}

/** Best-effort kind for anything a client library threw; OpErrors keep theirs. */
export function classify(err: unknown): OpError {
  if (err instanceof OpError) return err;
  const msg = errorMessage(err);
  const code = errorCode(err);
  if (code) return new OpError(CODE_KINDS[code]!, msg);
  if (/timed? ?out/i.test(msg)) return new OpError('timeout', msg);
  return new OpError('client_error', msg);
}

/** Server error codes both front ends use (RESP `-UNAVAILABLE`, HTTP `{"error":"unavailable"}`). */
export function serverKind(code: string): string | undefined {
  const c = code.toLowerCase();
  return c === 'unavailable' || c === 'timeout' ? c : undefined;
}
