import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * One structured line per request with a request id (the caller's X-Request-Id when it is sane,
 * else a fresh one, echoed back); `req.log` carries the id into every line the request writes.
 * Only the method, the path (download tokens cut out), the status and the time are logged:
 * never headers, query strings or bodies, which hold tokens, numbers and codes.
 */
export function requestLog(log: Logger): RequestHandler {
  return pinoHttp({
    logger: log,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        path: safePath(req.url),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    // Load balancers probe health every few seconds: those lines would drown the rest.
    autoLogging: { ignore: (req) => /^\/(healthz|readyz)(\?|$)/.test(req.url ?? '') },
  }) as unknown as RequestHandler;
}

export function safePath(url: string | undefined): string {
  const path = (url ?? '').split('?')[0];
  return path.replace(/^\/download\/.*/, '/download/[redacted]');
}
