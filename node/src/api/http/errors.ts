import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { BadRequestError, RequestTimeoutError, UnavailableError } from '../../kv/types.js';
import { CodecError } from '../../object/codec.js';
import { SiblingLimitError } from '../../object/object.js';

/** An error that already knows its HTTP status and JSON error code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 'bad_request', message);
}

/** Every error body has this shape (SPEC 4); the code also labels rkv_request_errors_total. */
export function sendError(res: Response, status: number, code: string, message: string): void {
  res.locals['errorCode'] = code;
  res.status(status).json({ error: code, message });
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'too_large',
  415: 'unsupported_media_type',
  501: 'not_implemented',
  503: 'unavailable',
};

interface Mapped {
  status: number;
  code: string;
  message: string;
  /** unexpected: worth a log line with the stack */
  internal: boolean;
}

function prop(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** Errors of body-parser/raw-body/router (and admin subsystems) carry their status. */
function statusOf(err: unknown): number | undefined {
  const s = prop(err, 'statusCode') ?? prop(err, 'status');
  return typeof s === 'number' && Number.isInteger(s) && s >= 400 && s <= 599 ? s : undefined;
}

export function mapError(err: unknown): Mapped {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof HttpError) return { status: err.status, code: err.code, message, internal: false };
  if (err instanceof UnavailableError) return { status: 503, code: 'unavailable', message, internal: false };
  // Riak answers a coordinator timeout with 503 too: the client may retry elsewhere.
  if (err instanceof RequestTimeoutError) return { status: 503, code: 'timeout', message, internal: false };
  if (err instanceof BadRequestError || err instanceof CodecError) {
    return { status: 400, code: 'bad_request', message, internal: false };
  }
  // 409: the write conflicts with the state of the object, and the client can fix it
  // by resolving the siblings (a write with the merged context); retrying as is won't help.
  if (err instanceof SiblingLimitError) return { status: 409, code: 'too_many_siblings', message, internal: false };
  // The router's decoding of a path segment: the client's URL is at fault, not us.
  if (err instanceof URIError) return { status: 400, code: 'bad_request', message: `malformed URL encoding: ${message}`, internal: false };
  const type = prop(err, 'type');
  if (type === 'entity.parse.failed') {
    return { status: 400, code: 'bad_request', message: `malformed JSON body: ${message}`, internal: false };
  }
  if (type === 'entity.too.large') {
    return { status: 413, code: 'body_too_large', message: `request body exceeds the maximum of ${String(prop(err, 'limit'))} bytes`, internal: false };
  }
  const status = statusOf(err);
  if (status !== undefined) {
    const ownCode = prop(err, 'code');
    const code = typeof ownCode === 'string' && /^[a-z][a-z0-9_]*$/.test(ownCode) ? ownCode : (CODE_BY_STATUS[status] ?? 'error');
    return { status, code, message, internal: status >= 500 };
  }
  return { status: 500, code: 'internal', message, internal: true };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const m = mapError(err);
    if (m.internal) logger.error({ err, method: req.method, path: req.path }, 'http request failed');
    if (res.headersSent) {
      // A streamed answer failed half way; the client can only notice by the cut connection.
      res.locals['errorCode'] = m.code;
      res.destroy();
      return;
    }
    sendError(res, m.status, m.code, m.message);
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  const path = req.path.length > 200 ? `${req.path.slice(0, 200)}...` : req.path;
  sendError(res, 404, 'not_found', `no route for ${req.method} ${path}`);
};

export function notImplemented(command: string): HttpError {
  return new HttpError(501, 'not_implemented', `${command} is not available on this node version`);
}
