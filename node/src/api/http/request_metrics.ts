import type { RequestHandler, Response } from 'express';
import type { Metrics } from '../metrics.js';

/**
 * Requests are labelled by a fixed operation name set by each route, never by
 * the path: bucket and key names would make the label set unbounded.
 */
export function op(name: string): RequestHandler {
  return (_req, res, next) => {
    res.locals['op'] = name;
    next();
  };
}

function label(res: Response, key: string): string | undefined {
  const v: unknown = res.locals[key];
  return typeof v === 'string' ? v : undefined;
}

export function requestMetrics(metrics: Metrics): RequestHandler {
  return (_req, res, next) => {
    const start = process.hrtime.bigint();
    // 'close' rather than 'finish' so aborted requests are measured too.
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const opName = label(res, 'op') ?? 'unknown';
      metrics.requestDuration.observe({ api: 'http', op: opName }, seconds);
      const code = label(res, 'errorCode');
      if (code !== undefined) metrics.requestErrors.inc({ api: 'http', op: opName, code });
    });
    next();
  };
}
