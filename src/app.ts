import type { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express, { Express } from 'express';
import type { Container } from './container';
import type { Context } from './context';
import { accountDeleteRoute } from './http/account-delete.route';
import { downloadHeadRoute, downloadRoute } from './http/download.route';
import { errorHandler } from './http/error.handler';
import { healthzRoute, readyzRoute } from './http/health.route';
import { requestLog } from './http/request-log';
import { securityHeaders } from './http/security-headers';
import { uploadMiddleware, uploadViewer } from './http/upload.middleware';

/** The express app: liveness and readiness, downloads, and /graphql (uploads parsed before Apollo sees the body). */
export function createApp(c: Container, apollo: ApolloServer<Context>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxySetting(c.config.trustProxy));
  app.use(requestLog(c.log));
  app.use(securityHeaders());

  app.get('/healthz', healthzRoute());
  app.get('/readyz', readyzRoute(c.health));
  // Before the GET route: express would otherwise answer HEAD with it.
  app.head('/download/:token', downloadHeadRoute(c.images.downloads));
  app.get('/download/:token', downloadRoute(c.images.downloads, c.log, c.metrics));
  // The public key that verifies image_destroyed receipts: anyone may check one.
  app.get('/.well-known/glimpse-receipt-key', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.json(c.receipts.jwk());
  });

  // Deleting an account without the app (app stores ask for such a page).
  app.use(accountDeleteRoute({ lifecycle: c.accountLifecycle, verification: c.verification, secret: c.formSecret, log: c.log }));

  app.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    uploadMiddleware({ maxImageBytes: c.config.maxImageBytes, authenticate: (authorization) => c.accounts.authenticate(authorization) }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => ({
        // A multipart request was authenticated before its body was read.
        viewer: uploadViewer(res) ?? (await c.accounts.authenticate(req.headers.authorization)),
        ip: req.ip,
        log: req.log,
      }),
    }),
  );

  app.use(errorHandler(c.log, c.config.env === 'development'));
  return app;
}

/** TRUST_PROXY as express takes it: true/false, a hop count, or addresses and names (loopback, 10.0.0.0/8). */
function trustProxySetting(raw: string): boolean | number | string[] {
  if (/^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
