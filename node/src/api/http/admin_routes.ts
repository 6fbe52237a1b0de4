import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import type { AdminApi, CoverageQuery } from './admin_api.js';
import { HttpError, badRequest, notImplemented } from './errors.js';
import { op } from './request_metrics.js';

/**
 * The JSON endpoints behind `rkv admin` and the operator. Optional AdminApi
 * methods are capabilities of later subsystems: a missing one is a 501 that
 * names the command, so an older node in a mixed cluster answers clearly.
 */
function body(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (b === undefined) return {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw badRequest('expected a JSON object body');
  return b as Record<string, unknown>;
}

function requiredString(req: Request, field: string): string {
  const v = body(req)[field];
  if (typeof v !== 'string' || v.length === 0) throw badRequest(`"${field}" must be a non-empty string`);
  return v;
}

function optionalString(req: Request, field: string): string | undefined {
  const v = body(req)[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw badRequest(`"${field}" must be a non-empty string when given`);
  return v;
}

function nonNegativeInt(req: Request, field: string): number {
  const v = body(req)[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badRequest(`"${field}" must be a non-negative integer`);
  return v;
}

function need<T>(fn: T | undefined, command: string): T {
  if (fn === undefined) throw notImplemented(command);
  return fn;
}

function param(req: Request, name: string): string {
  const v: unknown = (req.params as Record<string, unknown>)[name];
  if (typeof v !== 'string' || v.length === 0) throw badRequest(`${name} must not be empty`);
  return v;
}

export function adminRouter(admin: AdminApi): Router {
  const router = Router();
  const json = express.json({ type: () => true, limit: '64kb' });
  router.use('/admin', op('admin'), json);

  const reply = (fn: (req: Request) => Promise<unknown>): RequestHandler => async (req: Request, res: Response) => {
    // Commands that return nothing still answer with a JSON body, so clients can always parse one.
    res.json((await fn(req)) ?? { ok: true });
  };

  router.get('/admin/member-status', reply(() => admin.memberStatus()));
  router.get('/admin/ring-status', reply(() => admin.ringStatus()));
  router.get('/admin/vnode-status', reply(() => need(admin.vnodeStatus, 'vnode-status').call(admin)));
  router.get('/admin/transfers', reply(() => need(admin.transfers, 'transfers').call(admin)));
  router.get('/admin/transfer-limit', reply(() => need(admin.getTransferLimit, 'transfer-limit').call(admin)));
  router.put('/admin/transfer-limit', reply((req) => need(admin.setTransferLimit, 'transfer-limit').call(admin, nonNegativeInt(req, 'limit'))));
  router.post('/admin/cluster/join', reply((req) => need(admin.join, 'cluster join').call(admin, requiredString(req, 'node'))));
  router.post('/admin/cluster/leave', reply((req) => need(admin.leave, 'cluster leave').call(admin, optionalString(req, 'node'))));
  router.post(
    '/admin/cluster/force-remove',
    reply((req) => need(admin.forceRemove, 'cluster force-remove').call(admin, requiredString(req, 'node'))),
  );
  router.get('/admin/cluster/plan', reply(() => need(admin.plan, 'cluster plan').call(admin)));
  router.post('/admin/cluster/commit', reply(() => need(admin.commit, 'cluster commit').call(admin)));
  router.post('/admin/cluster/clear', reply(() => need(admin.clear, 'cluster clear').call(admin)));
  router.post('/admin/ring/resize', reply((req) => need(admin.resize, 'ring resize').call(admin, nonNegativeInt(req, 'size'))));
  router.post('/admin/ring/resize-abort', reply(() => need(admin.resizeAbort, 'ring resize-abort').call(admin)));
  router.post('/admin/repair', reply((req) => need(admin.repair, 'repair').call(admin, nonNegativeInt(req, 'partition'))));
  router.get('/admin/keys/:bucket', reply((req) => need(admin.keys, 'keys').call(admin, param(req, 'bucket'), coverageQuery(req))));
  router.get('/admin/count/:bucket', reply((req) => need(admin.count, 'count').call(admin, param(req, 'bucket'), coverageQuery(req))));
  return router;
}

/** ?selector=all|allup&sample=(0,1]&offset=n for coverage queries; anything else is a 400. */
function coverageQuery(req: Request): CoverageQuery {
  const q: CoverageQuery = {};
  const one = (name: string): string | undefined => {
    const v = req.query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new HttpError(400, 'bad_request', `${name} given more than once`);
    return v;
  };
  const selector = one('selector');
  if (selector !== undefined) {
    if (selector !== 'all' && selector !== 'allup') throw new HttpError(400, 'bad_request', 'selector must be all or allup');
    q.selector = selector;
  }
  const sample = one('sample');
  if (sample !== undefined) {
    const f = Number(sample);
    if (!(f > 0 && f <= 1)) throw new HttpError(400, 'bad_request', 'sample must be a fraction in (0, 1]');
    q.sample = f;
  }
  const offset = one('offset');
  if (offset !== undefined) {
    if (!/^\d+$/.test(offset)) throw new HttpError(400, 'bad_request', 'offset must be a non-negative integer');
    q.offset = Number(offset);
  }
  return q;
}
