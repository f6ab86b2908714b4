import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusMetrics } from '../adapters/prometheus.metrics';
import { StartupError } from '../errors';
import type { Logger } from '../logger';

export interface MetricsServer {
  /** Base URL, e.g. http://127.0.0.1:9464 (GET /metrics under it). */
  url: string;
  close(): Promise<void>;
}

/**
 * GET /metrics on a port of its own: the API's port never answers it, so a load balancer in
 * front of the API never exposes it, and only whoever reaches this port can scrape.
 */
export async function startMetricsServer(metrics: PrometheusMetrics, port: number, host: string, log: Logger): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: this port serves GET /metrics only\n');
      return;
    }
    metrics.scrape().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err) => {
        log.error({ err }, 'could not collect metrics');
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('could not collect metrics\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new StartupError(`cannot listen for /metrics on ${host}:${port} (METRICS_PORT; 0 turns metrics off): ${e.code ?? e.message}`, {
          cause: e,
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
