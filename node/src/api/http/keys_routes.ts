import { randomBytes } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import type { KvApi } from '../../kv/types.js';
import { liveSiblings } from '../../object/object.js';
import { encodeContext } from '../../object/codec.js';
import { HttpError } from './errors.js';
import { sendNotFound, sendSiblings, vtag } from './object_response.js';
import { bucketName, contextHeader, keyName, parseObjectQuery, queryParam } from './params.js';
import { op } from './request_metrics.js';

export interface KeysDeps {
  kv: KvApi;
  maxValueSize: number;
  now: () => number;
}

/*
 * Regex routes, not `:bucket`: an empty bucket must reach us to get a clear 400
 * instead of falling through to 404. Segments are matched on the raw path, so an
 * encoded '/' (%2F) belongs to the name; the router decodes the captures.
 */
const OBJECT = /^\/buckets\/([^/]*)\/keys\/([^/]+)\/?$/;
export const BUCKET_KEYS = /^\/buckets\/([^/]*)\/keys\/?$/;

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Values are bytes whatever their type; an oversize one is refused before it is buffered whole. */
function valueBody(maxValueSize: number): RequestHandler {
  const raw = express.raw({ type: () => true, limit: maxValueSize });
  return (req, res, next) => {
    raw(req, res, (err?: unknown) => {
      if (err === undefined || err === null) return next();
      const e = err as { type?: unknown; length?: unknown; received?: unknown };
      if (e.type !== 'entity.too.large') return next(err);
      const size = typeof e.length === 'number' ? `${e.length} bytes` : `more than ${maxValueSize} bytes`;
      next(new HttpError(413, 'value_too_large', `value of ${size} exceeds the maximum of ${maxValueSize} bytes`));
    });
  };
}

function bodyOf(req: Request): Buffer {
  const b: unknown = req.body;
  return Buffer.isBuffer(b) ? b : Buffer.alloc(0);
}

/** Riak generates a key for a POST to the bucket; 20 random characters make collisions moot. */
function newKey(): string {
  return randomBytes(15).toString('base64url');
}

export function keysRouter(deps: KeysDeps): Router {
  const { kv, now } = deps;
  const router = Router();
  const body = valueBody(deps.maxValueSize);

  router.get(OBJECT, op('get'), async (req: Request, res: Response) => {
    const bucket = bucketName(req);
    const key = keyName(req);
    const q = parseObjectQuery(req);
    const wanted = queryParam(req, 'vtag');
    const result = await kv.get(Buffer.from(bucket, 'utf8'), Buffer.from(key, 'utf8'), q.get);
    if (!result.found) return sendNotFound(res, result.context);
    let siblings = result.siblings;
    if (wanted !== undefined) {
      siblings = siblings.filter((s) => vtag(s) === wanted);
      if (siblings.length === 0) return sendNotFound(res, result.context);
    }
    sendSiblings(req, res, siblings, result.context);
  });

  const store = async (req: Request, res: Response, key: string, created: boolean): Promise<void> => {
    const bucket = bucketName(req);
    const q = parseObjectQuery(req);
    const context = contextHeader(req);
    const content = { value: bodyOf(req), contentType: req.get('content-type') ?? DEFAULT_CONTENT_TYPE };
    const result = await kv.put(Buffer.from(bucket, 'utf8'), Buffer.from(key, 'utf8'), content, context, q.put);
    if (created) res.setHeader('Location', `/buckets/${encodeURIComponent(bucket)}/keys/${encodeURIComponent(key)}`);
    if (q.returnBody) {
      const live = liveSiblings(result.object, now());
      if (live.length > 0) return sendSiblings(req, res, live, result.context, created ? 201 : 200);
    }
    res.setHeader('X-Riak-Vclock', encodeContext(result.context));
    res.status(created ? 201 : 204).end();
  };

  const put: RequestHandler = (req, res) => store(req, res, keyName(req), false);
  router.put(OBJECT, op('put'), body, put);
  router.post(OBJECT, op('put'), body, put);
  router.post(BUCKET_KEYS, op('put'), body, (req, res) => store(req, res, newKey(), true));

  router.delete(OBJECT, op('delete'), async (req: Request, res: Response) => {
    const bucket = bucketName(req);
    const key = keyName(req);
    const q = parseObjectQuery(req);
    // Riak answers 204 whether or not there was something to delete.
    await kv.delete(Buffer.from(bucket, 'utf8'), Buffer.from(key, 'utf8'), contextHeader(req), q.put);
    res.status(204).end();
  });

  return router;
}
