import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import 'reflect-metadata';
import { LocalBlobStore } from '../../src/adapters/local.blob-store';
import { S3BlobStore } from '../../src/adapters/s3.blob-store';
import { Config, loadConfig } from '../../src/config';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/logger';
import { RunningServer, startServer } from '../../src/server';
import { createTestDatabase } from './mysql';
import { mysqlAvailable } from './services';
import { attachSmsInbox, detachSmsInbox, FakeAliyunSms, startFakeAliyunSms } from './fake-aliyun-sms';
import { LocalS3, startLocalS3 } from './s3.server';

/** The two storage pairs Glimpse runs on: production's MySQL + S3, and the zero-setup default. */
export type StackKind = 'mysql-s3' | 'sqlite-local';

/** TEST_STACKS picks among them; mysql-s3 is left out when MySQL cannot be reached (services.ts says so). */
export const STACKS: StackKind[] = (process.env.TEST_STACKS ?? 'mysql-s3,sqlite-local')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s && (s !== 'mysql-s3' || mysqlAvailable)) as StackKind[];

export interface TestStack {
  kind: StackKind;
  /** Base URL of the running Glimpse server. */
  url: string;
  config: Config;
  server: RunningServer;
  /** The local S3 server when this stack started one (not when S3_ENDPOINT points elsewhere). */
  s3?: LocalS3;
  /** The fake Aliyun SMS service the server sends its codes to (unless a test chose SMS_PROVIDER=log). */
  sms?: FakeAliyunSms;
  /** Names of every blob in the store right now. */
  blobNames(): Promise<string[]>;
  /** Starts the server again (same config, port and database) after `server.stop()`. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Where the server's log lines go (tests that read the log); otherwise LOG_LEVEL decides. */
  logStream?: DestinationStream;
}

/**
 * Starts Glimpse on real parts: a fresh MariaDB database and an S3 server on loopback (or the one
 * S3_ENDPOINT names, with a bucket of its own), or a fresh SQLite file and folder; verification
 * codes go by SMS to a local fake of Aliyun's SMS API, whose inbox registerUser reads.
 * Rate limits are raised 1000-fold (RATE_LIMIT_MULTIPLIER) so that suites about something else
 * are not throttled; suites about limits pass RATE_LIMIT_MULTIPLIER=1.
 */
export async function startStack(kind: StackKind, env: Record<string, string> = {}, options: StackOptions = {}): Promise<TestStack> {
  const cleanups: (() => Promise<void>)[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-test-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const base: Record<string, string> = {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_MULTIPLIER: '1000',
    // Off unless a suite asks for it: production's default port would collide between servers.
    METRICS_PORT: '0',
  };
  let s3: LocalS3 | undefined;
  let sms: FakeAliyunSms | undefined;
  try {
    if ((env.SMS_PROVIDER ?? 'aliyun') === 'aliyun' && !env.ALIYUN_SMS_ENDPOINT) {
      const fake = await startFakeAliyunSms();
      sms = fake;
      cleanups.push(() => fake.stop());
      Object.assign(base, fake.env());
    }
    if (kind === 'mysql-s3') {
      const db = await createTestDatabase();
      cleanups.push(db.drop);
      base.DATABASE_URL = db.url;
      if (process.env.S3_ENDPOINT) {
        base.S3_ENDPOINT = process.env.S3_ENDPOINT;
        base.S3_ACCESS_KEY = process.env.S3_ACCESS_KEY ?? 'minioadmin';
        base.S3_SECRET_KEY = process.env.S3_SECRET_KEY ?? 'minioadmin';
        base.S3_BUCKET = `glimpse-test-${db.name.slice(-6).replace(/_/g, '-')}`;
      } else {
        s3 = await startLocalS3();
        cleanups.push(async () => {
          await s3!.stop();
          fs.rmSync(s3!.directory, { recursive: true, force: true });
        });
        Object.assign(base, { S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKey, S3_SECRET_KEY: s3.secretKey });
      }
    } else {
      base.DATABASE_URL = `sqlite:${path.join(dir, 'glimpse.sqlite')}`;
    }
    // A port picked up front, so that PUBLIC_URL's default (http://HOST:PORT) is the real one.
    base.PORT = String(await freePort());
    // Production refuses to generate its master key in DATA_DIR: it gets one of its own.
    if (env.NODE_ENV === 'production' && !env.ENCRYPTION_KEY && !env.ENCRYPTION_KEY_FILE)
      base.ENCRYPTION_KEY = randomBytes(32).toString('base64');
    const config = loadConfig({ ...base, ...env });
    const log = createLogger(config.logLevel, options.logStream);
    const server = await startServer(config, log);
    cleanups.push(() => server.stop());
    if (sms) {
      attachSmsInbox(server.url, sms);
      cleanups.push(async () => detachSmsInbox(server.url));
    }
    const lister = config.s3 ? new S3BlobStore(config.s3) : new LocalBlobStore(path.join(config.dataDir, 'blobs'));
    const stack: TestStack = {
      kind,
      url: server.url,
      config,
      server,
      s3,
      sms,
      blobNames: async () => {
        const names: string[] = [];
        for await (const b of lister.list()) names.push(b.name);
        return names;
      },
      restart: async () => {
        stack.server = await startServer(config, log);
        stack.url = stack.server.url;
      },
      stop: async () => {
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
      },
    };
    cleanups.push(() => stack.server.stop());
    return stack;
  } catch (e) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    throw e;
  }
}

/** Runs the same suite once on each storage pair, each with a server of its own. */
export function describeEachStack(
  title: string,
  body: (stack: () => TestStack) => void,
  env: Record<string, string> = {},
  options: StackOptions = {},
): void {
  for (const kind of STACKS) {
    describe(`${title} [${kind}]`, function () {
      this.timeout(60_000);
      let stack: TestStack | undefined;
      before(async () => {
        stack = await startStack(kind, env, options);
      });
      after(async () => {
        await stack?.stop();
      });
      body(() => {
        if (!stack) throw new Error('stack not started');
        return stack;
      });
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
