import { smsTestNumbersEnv } from './glimpse-api';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Minio from 'minio';
import { createTestDatabase } from '../test/support/mysql';
import { agent } from './http';
import { freePort, Service, startService, waitForHttp } from './procs';

/** The repository's root, from dist/bench/. */
export const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');

export const GLIMPSE_BUCKET = 'glimpse-images';
export const DIRECT_BUCKET = 'bench-direct';
export const BARE_BUCKET = 'bench-bare';
export const PLAIN_BUCKET = 'glimpse-plain';

/** One Glimpse process (production build) on a database of its own. */
export type GlimpseService = Service & { url: string; databaseUrl: string };

export interface BenchStack {
  glimpse: GlimpseService;
  /** The same build with ENCRYPTION=off (blobs stored as sent), the baseline of encryption at rest. */
  glimpsePlain: GlimpseService;
  /** Starts one more Glimpse (its own database and bucket), stopped with the stack; `nodeArgs` replace the stack's. */
  startGlimpse(name: string, env?: Record<string, string>, nodeArgs?: string[]): Promise<GlimpseService>;
  /** REDIS_URL and a fresh key prefix: instances started with one call's result share counters, as one deployment's do. */
  redisEnv(name: string): Record<string, string>;
  bareUpload: Service & { url: string };
  bareApollo: Service & { url: string };
  s3: { endpoint: string; accessKey: string; secretKey: string; client: Minio.Client; pid: number };
  /** Removes every object of a bucket (between rounds, untimed: s3rver keeps them on disk). */
  emptyBucket(bucket: string): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  maxImageBytes: number;
  /** Folder for --cpu-prof output of the Glimpse process (BENCH_CPU_PROF). */
  cpuProfDir?: string;
  /** More node flags for the Glimpse process (e.g. `-r` a probe while investigating). */
  nodeArgs?: string[];
}

/**
 * Everything on loopback, each in its own process: s3rver, Glimpse built for production (twice:
 * encryption at rest on, and off as its baseline; each on a fresh MariaDB database), the bare
 * express + busboy upload handler, and a bare Apollo server.
 */
export async function startBenchStack(opts: StackOptions): Promise<BenchStack> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => process.stderr.write(`cleanup: ${e?.message ?? e}\n`));
  };
  try {
    const production = { NODE_ENV: 'production' };

    const s3Svc = await startService(
      's3rver',
      path.join(DIST, 'test/support/s3.server.js'),
      production,
      async (svc) => void (await svc.firstLine),
    );
    const s3Info = JSON.parse(await s3Svc.firstLine) as { endpoint: string; directory: string };
    const s3Dir = s3Info.directory;
    cleanups.push(async () => {
      await s3Svc.stop();
      fs.rmSync(s3Dir, { recursive: true, force: true });
    });
    const endpoint = new URL(s3Info.endpoint);
    const s3 = {
      endpoint: s3Info.endpoint,
      pid: s3Svc.pid,
      accessKey: 'S3RVER',
      secretKey: 'S3RVER',
      client: new Minio.Client({
        endPoint: endpoint.hostname,
        port: Number(endpoint.port),
        useSSL: false,
        accessKey: 'S3RVER',
        secretKey: 'S3RVER',
        region: 'us-east-1',
        transportAgent: agent,
      }),
    };
    await s3.client.makeBucket(DIRECT_BUCKET, 'us-east-1');

    const startGlimpse = async (name: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<GlimpseService> => {
      const db = await createTestDatabase('glimpse_bench');
      cleanups.push(db.drop);
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-bench-'));
      cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const svc = await startService(
        name,
        path.join(DIST, 'src/main.js'),
        {
          ...production,
          HOST: '127.0.0.1',
          PORT: String(port),
          DATABASE_URL: db.url,
          S3_ENDPOINT: s3.endpoint,
          S3_ACCESS_KEY: s3.accessKey,
          S3_SECRET_KEY: s3.secretKey,
          S3_BUCKET: GLIMPSE_BUCKET,
          MAX_IMAGE_BYTES: String(opts.maxImageBytes),
          // A group of the sender and 50 members (the social section's group send).
          MAX_GROUP_MEMBERS: '51',
          DOWNLOAD_URL_TTL_SECONDS: '3600',
          LOG_LEVEL: 'warn',
          // Production refuses the log SMS provider; the bench registers only test numbers, so the
          // Aliyun settings are never used (its endpoint is a closed port).
          SMS_PROVIDER: 'aliyun',
          ALIYUN_ACCESS_KEY_ID: 'bench',
          ALIYUN_ACCESS_KEY_SECRET: 'bench',
          ALIYUN_SMS_SIGN_NAME: 'bench',
          ALIYUN_SMS_TEMPLATE_CODE: 'SMS_0',
          ALIYUN_SMS_ENDPOINT: 'http://127.0.0.1:9',
          SMS_TEST_NUMBERS: smsTestNumbersEnv(),
          // Production takes test numbers only when told they are meant to be there.
          SMS_TEST_NUMBERS_IN_PRODUCTION: 'true',
          RATE_LIMIT_MULTIPLIER: '100000',
          DATA_DIR: dataDir,
          // Production needs a master key of its own (a generated one is refused).
          ENCRYPTION_KEY: randomBytes(32).toString('base64'),
          // Production refuses ENCRYPTION=off: the baseline without encryption at rest runs as
          // NODE_ENV=test, with production's GraphQL settings (no introspection, so the same
          // validation rules run).
          ...(env.ENCRYPTION === 'off' ? { NODE_ENV: 'test', INTROSPECTION: 'false' } : {}),
          // Off unless a section asks for it (production's default port is one per machine).
          METRICS_PORT: '0',
          ...env,
        },
        () => waitForHttp(`${url}/healthz`),
        nodeArgs,
      );
      cleanups.push(() => svc.stop());
      return Object.assign(svc, { url, databaseUrl: db.url });
    };
    // Profiles are named <cpuProfDir>/<name>.cpuprofile.
    const nodeArgs = (name: string) => [
      ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`, `--cpu-prof-name=${name}.cpuprofile`] : []),
      ...(opts.nodeArgs ?? []),
    ];
    // Rate-limit counters in Redis, as production runs (its compose file requires REDIS_URL); a
    // prefix per process keeps runs and other users of that Redis apart.
    const redis = (name: string) => ({
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `${name}-bench-${process.pid}-${Date.now()}:`,
    });
    const glimpse = await startGlimpse('glimpse', redis('glimpse'), nodeArgs('glimpse'));
    const glimpsePlain = await startGlimpse(
      'glimpse-plain',
      { ENCRYPTION: 'off', S3_BUCKET: PLAIN_BUCKET, ...redis('glimpse-plain') },
      nodeArgs('glimpse-plain'),
    );

    const bareUpload = await startService(
      'bare-upload',
      path.join(DIST, 'bench/bare-upload.server.js'),
      { ...production, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKey, S3_SECRET_KEY: s3.secretKey, S3_BUCKET: BARE_BUCKET },
      async (svc) => void (await svc.firstLine),
    );
    cleanups.push(() => bareUpload.stop());
    const bareApollo = await startService(
      'bare-apollo',
      path.join(DIST, 'bench/bare-apollo.server.js'),
      production,
      async (svc) => void (await svc.firstLine),
    );
    cleanups.push(() => bareApollo.stop());

    const emptyBucket = async (bucket: string) => {
      const names: string[] = [];
      for await (const o of s3.client.listObjectsV2(bucket, '', true))
        if ((o as { name?: string }).name) names.push((o as { name: string }).name);
      for (let i = 0; i < names.length; i += 16) await Promise.all(names.slice(i, i + 16).map((n) => s3.client.removeObject(bucket, n)));
    };

    return {
      glimpse,
      glimpsePlain,
      startGlimpse: (name, env, args) => startGlimpse(name, env, args ?? nodeArgs(name)),
      redisEnv: redis,
      bareUpload: Object.assign(bareUpload, { url: JSON.parse(await bareUpload.firstLine).url as string }),
      bareApollo: Object.assign(bareApollo, { url: JSON.parse(await bareApollo.firstLine).url as string }),
      s3,
      emptyBucket,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
