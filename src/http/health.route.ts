import type { RequestHandler } from 'express';
import type { HealthService } from '../services/health.service';

/** GET /healthz — the process is up and serving HTTP (a liveness probe: nothing else is checked). */
export function healthzRoute(): RequestHandler {
  return (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  };
}

/**
 * GET /readyz — 200 when the database and the blob store answer, 503 naming the parts that do
 * not, so that a load balancer stops sending requests this instance cannot serve.
 */
export function readyzRoute(health: HealthService): RequestHandler {
  return async (_req, res, next) => {
    try {
      const r = await health.readiness();
      res.setHeader('Cache-Control', 'no-store');
      res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', checks: r.checks, failing: r.failing });
    } catch (e) {
      next(e);
    }
  };
}
