import { type Request, type Response, Router } from 'express';
import type { Metrics } from '../metrics.js';
import { op } from './request_metrics.js';

export interface HealthDeps {
  metrics: Metrics;
  isReady: () => boolean;
  stats: () => Record<string, unknown>;
}

export function healthRouter(deps: HealthDeps): Router {
  const router = Router();

  router.get('/ping', op('ping'), (_req: Request, res: Response) => {
    res.type('text/plain').send('OK');
  });
  // Liveness says only that the process answers; readiness gates traffic
  // (Kubernetes readiness probe), so it follows the node's own view.
  router.get('/health/live', op('health'), (_req: Request, res: Response) => {
    res.json({ status: 'live' });
  });
  router.get('/health/ready', op('health'), (_req: Request, res: Response) => {
    if (deps.isReady()) res.json({ status: 'ready' });
    // Not sendError: a probe seeing a starting node is not a request error worth counting.
    else res.status(503).json({ status: 'not_ready', error: 'not_ready', message: 'node is not ready to serve requests' });
  });
  router.get('/stats', op('stats'), (_req: Request, res: Response) => {
    res.json(deps.stats());
  });
  router.get('/metrics', op('metrics'), async (_req: Request, res: Response) => {
    const text = await deps.metrics.registry.metrics();
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.end(text);
  });
  return router;
}
