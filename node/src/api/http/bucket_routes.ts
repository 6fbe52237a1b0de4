import express, { type Request, type Response, Router } from 'express';
import type { BucketProps, KvApi } from '../../kv/types.js';
import type { AdminApi } from './admin_api.js';
import { badRequest, notImplemented } from './errors.js';
import { BUCKET_KEYS } from './keys_routes.js';
import { bucketName, parseQuorumText, queryParam } from './params.js';
import { op } from './request_metrics.js';

export interface BucketDeps {
  kv: KvApi;
  admin: AdminApi;
}

const PROPS = /^\/buckets\/([^/]*)\/props\/?$/;
const QUORUM_PROPS = ['r', 'w', 'pr', 'pw', 'dw'] as const;
const BOOLEAN_PROPS = ['allow_mult', 'last_write_wins'] as const;
/** Keys per chunk of a streamed listing (Riak sends several {"keys":[...]} objects). */
const STREAM_CHUNK = 1000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a props body strictly: a typo in a prop name must not be silently ignored. */
export function parsePropsBody(body: unknown): Partial<BucketProps> {
  if (!isObject(body) || !isObject(body['props'])) throw badRequest('expected a JSON body {"props": {...}}');
  const out: Partial<BucketProps> = {};
  for (const [name, value] of Object.entries(body['props'])) {
    if (name === 'n_val') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw badRequest(`invalid n_val: ${JSON.stringify(value)}`);
      out.n_val = value;
    } else if ((QUORUM_PROPS as readonly string[]).includes(name)) {
      const text = typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : value;
      const q = typeof text === 'string' && text !== 'default' ? parseQuorumText(name, text) : undefined;
      if (q === undefined) throw badRequest(`invalid ${name}: ${JSON.stringify(value)}`);
      out[name as (typeof QUORUM_PROPS)[number]] = q;
    } else if ((BOOLEAN_PROPS as readonly string[]).includes(name)) {
      if (typeof value !== 'boolean') throw badRequest(`invalid ${name}: ${JSON.stringify(value)} (expected true or false)`);
      out[name as (typeof BOOLEAN_PROPS)[number]] = value;
    } else {
      throw badRequest(`unknown bucket property: ${JSON.stringify(name)}`);
    }
  }
  return out;
}

export function bucketRouter(deps: BucketDeps): Router {
  const { kv, admin } = deps;
  const router = Router();
  // Any content type: `curl -d` sends form-encoded by default, and the body is JSON regardless.
  const json = express.json({ type: () => true, limit: '1mb' });

  router.get(PROPS, op('props_get'), (req: Request, res: Response) => {
    res.json({ props: kv.bucketProps(Buffer.from(bucketName(req), 'utf8')) });
  });

  router.put(PROPS, op('props_put'), json, async (req: Request, res: Response) => {
    const bucket = bucketName(req);
    const props = parsePropsBody(req.body);
    await kv.setBucketProps(Buffer.from(bucket, 'utf8'), props);
    res.status(204).end();
  });

  router.get(BUCKET_KEYS, op('list_keys'), async (req: Request, res: Response) => {
    const bucket = bucketName(req);
    const mode = queryParam(req, 'keys');
    if (mode !== 'true' && mode !== 'stream') throw badRequest('list keys with ?keys=true or ?keys=stream');
    if (!admin.keys) throw notImplemented('list keys');
    const { keys, partial } = await admin.keys(bucket);
    if (mode === 'true') {
      res.json(partial === undefined ? { keys } : { keys, partial });
      return;
    }
    res.status(200).setHeader('Content-Type', 'application/json');
    for (let i = 0; i < keys.length; i += STREAM_CHUNK) res.write(JSON.stringify({ keys: keys.slice(i, i + STREAM_CHUNK) }));
    res.end(JSON.stringify(partial === undefined ? { keys: [] } : { keys: [], partial }));
  });

  return router;
}
