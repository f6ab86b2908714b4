// First: refuses an old Node before anything else loads.
import './node-version';
import 'reflect-metadata';
import v8 from 'node:v8';
import { ConfigError, loadConfig, redactUrl } from './config';
import { StartupError } from './errors';
import { createLogger, type Logger } from './logger';
import type { Tracing } from './tracing';

/**
 * V8 grows its heap's collection limit by a factor it picks from how fast the program allocates
 * on its heap; Glimpse allocates little there (its bytes are Buffers, outside the heap), so the
 * factor comes out small. But V8 also counts the Buffers allocated since its last full
 * collection against that limit, so a process serving images could run a full collection every
 * few requests, for good (docs/performance.md, "Heap tuning"). A fixed factor of 2 ends that. V8 reads the flag whenever it sets a limit, so setting it here works;
 * `node --heap-growing-percent=N` on the command line still wins.
 */
function tuneHeapGrowth(): void {
  if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) {
    v8.setFlagsFromString('--heap-growing-percent=100');
  }
}

/** Process entry: config → database → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  tuneHeapGrowth();
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  logFatalExits(log);
  // Before the server loads: the instrumented modules (http, mysql2) are patched as they load.
  let tracing: Tracing | null = null;
  if (config.tracing) tracing = await (await import('./tracing')).startTracing(config.tracing, log);
  // Loaded only now, so that a configuration error is reported without loading the whole server.
  const { startServer } = await import('./server');
  const running = await startServer(config, log);
  const db = config.database.kind === 'mysql' ? `MySQL ${redactUrl(config.database.url)}` : `SQLite ${config.database.file}`;
  log.info(
    {
      url: running.url,
      database: db,
      blobs: running.container.blobs.description,
      push: running.container.push.description,
      metrics: running.metricsUrl ? `${running.metricsUrl}/metrics` : 'off',
      tracing: config.tracing ? 'on' : 'off',
      sms: running.container.sms.description,
      rateLimits: config.redisUrl ? 'redis' : 'database',
      smsTestNumbers: config.smsTestNumbers.size,
      env: config.env,
    },
    `Glimpse listening on ${running.url}/graphql`,
  );
  if (config.smsTestNumbers.size) {
    log.warn(
      { count: config.smsTestNumbers.size },
      `SMS_TEST_NUMBERS: ${config.smsTestNumbers.size} test number(s) active; they register with their fixed codes, without an SMS`,
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    running
      .stop()
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * A failure nothing handled ends the process (its state is unknown; the supervisor restarts it),
 * but not silently: the log says why first.
 */
function logFatalExits(log: Logger): void {
  process.on('uncaughtException', (err, origin) => {
    log.fatal({ err, origin }, 'uncaught exception: exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled promise rejection: exiting');
    process.exit(1);
  });
}

main().catch((err) => {
  // A part the configuration points at is unreachable: say which variable, not a stack trace.
  const detail = err instanceof StartupError ? err.message : (err?.stack ?? err);
  process.stderr.write(`Glimpse failed to start: ${detail}\n`);
  process.exit(1);
});
