import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApollo } from './apollo';
import { createApp } from './app';
import type { Config } from './config';
import { Container, createContainer } from './container';
import type { Logger } from './logger';
import { createSchema } from './schema';

export interface RunningServer {
  url: string;
  container: Container;
  /**
   * Stops taking requests and lets those in flight finish, lets the push dispatcher finish the
   * jobs it is sending (the rest wait in the outbox for the next start), then closes the database.
   */
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const container = await createContainer(config, log);
  try {
    const schema = await createSchema(container.resolvers);
    const apollo = createApollo(schema, config, log);
    await apollo.start();
    // Sockets buffer 256 KiB before pushing back (Node's default is 16 KiB): a download relays the
    // store's 64 KiB chunks, and a decrypted segment leaves as two pieces (it straddles two of
    // them); below one chunk, the second piece waited for the socket to drain and went out in a
    // system call of its own, one extra per 64 KiB.
    const server = http.createServer({ highWaterMark: 256 * 1024 }, createApp(container, apollo));
    // Uploads of large images on slow phones take a while; keep-alive outlives a load balancer's.
    server.requestTimeout = 10 * 60_000;
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    container.dispatcher.start();
    if (config.backgroundJobs) container.scheduler.start();
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      url: `http://${host}:${port}`,
      container,
      stop: async () => {
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
        await container.scheduler.stop();
        await apollo.stop();
        await container.close();
      },
    };
  } catch (e) {
    await container.close().catch(() => undefined);
    throw e;
  }
}
