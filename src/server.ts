import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApollo } from './apollo';
import { createApp } from './app';
import type { Config } from './config';
import { Container, createContainer } from './container';
import { MetricsServer, startMetricsServer } from './http/metrics.server';
import type { Logger } from './logger';
import { attachGraphqlWs } from './http/graphql-ws';
import { createSchema } from './schema';

export interface RunningServer {
  url: string;
  /** Base URL of GET /metrics (METRICS_PORT), or null when metrics are off. */
  metricsUrl: string | null;
  container: Container;
  /**
   * Closes WebSockets (1012 Service Restart), stops taking requests and lets those in flight finish, lets the push dispatcher finish the
   * jobs it is sending (the rest wait in the outbox for the next start), then closes the database.
   */
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const container = await createContainer(config, log);
  let metricsServer: MetricsServer | null = null;
  try {
    const schema = await createSchema(container.resolvers);
    const apollo = createApollo(schema, config, log, container.metrics);
    await apollo.start();
    if (container.prometheus && config.metricsPort !== null) {
      metricsServer = await startMetricsServer(container.prometheus, config.metricsPort, config.host, log);
    }
    // Sockets buffer 256 KiB before pushing back (Node's default is 16 KiB): a download relays the
    // store's 64 KiB chunks, and a decrypted segment leaves in pieces that straddle them; below
    // one chunk, a piece waited for the socket to drain and went out in a system call of its own.
    const server = http.createServer({ highWaterMark: 256 * 1024 }, createApp(container, apollo));
    // Uploads of large images on slow phones take a while; keep-alive outlives a load balancer's.
    server.requestTimeout = 10 * 60_000;
    server.keepAliveTimeout = 65_000;
    const ws = attachGraphqlWs(server, schema, container.realtime, config, log);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    container.dispatcher.start();
    container.realtime.start();
    if (config.backgroundJobs) container.scheduler.start();
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      url: `http://${host}:${port}`,
      metricsUrl: metricsServer?.url ?? null,
      container,
      stop: async () => {
        // WebSockets first: they would hold server.close open. 1012 tells clients to reconnect.
        const closing = ws.close();
        await container.realtime.stop();
        await closing;
        // Under steady keep-alive traffic (a load balancer's pool) a connection is never idle
        // when close() looks, and close() waited for good: from now on every answer closes its
        // connection, and a connection is closed as soon as it is idle.
        server.prependListener('request', (_req, res) => res.setHeader('Connection', 'close'));
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        clearInterval(idle);
        // Scraped until the API stopped, so that the last requests are counted.
        await metricsServer?.close();
        await container.scheduler.stop();
        await apollo.stop();
        await container.close();
      },
    };
  } catch (e) {
    await metricsServer?.close().catch(() => undefined);
    await container.close().catch(() => undefined);
    throw e;
  }
}
