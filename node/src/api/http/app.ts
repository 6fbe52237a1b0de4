import express from 'express';
import type { Logger } from 'pino';
import type { KvApi } from '../../kv/types.js';
import type { Metrics } from '../metrics.js';
import type { AdminApi } from './admin_api.js';
import { adminRouter } from './admin_routes.js';
import { bucketRouter } from './bucket_routes.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { healthRouter } from './health_routes.js';
import { keysRouter } from './keys_routes.js';
import { requestMetrics } from './request_metrics.js';

export interface HttpAppDeps {
  kv: KvApi;
  admin: AdminApi;
  metrics: Metrics;
  logger: Logger;
  /** largest value accepted by PUT/POST, bytes */
  maxValueSize: number;
  isReady: () => boolean;
  stats: () => Record<string, unknown>;
  /** wall clock, ms; decides which siblings have expired */
  now: () => number;
}

/** The HTTP API of SPEC 4: Riak-style objects and buckets, health, metrics and /admin. */
export function createHttpApp(deps: HttpAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Riak's query strings are flat; the extended parser would turn `r[x]=1` into objects.
  app.set('query parser', 'simple');
  app.use(requestMetrics(deps.metrics));
  app.use(healthRouter(deps));
  app.use(keysRouter(deps));
  app.use(bucketRouter(deps));
  app.use(adminRouter(deps.admin));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
