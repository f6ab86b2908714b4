import path from 'node:path';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { AliyunSmsProvider } from './adapters/aliyun.sms-provider';
import type { BlobStore } from './adapters/blob-store';
import { FlexibleRateLimiter, RateLimitStore } from './adapters/flexible.rate-limiter';
import { GetuiClient } from './adapters/getui.client';
import { LocalBlobStore } from './adapters/local.blob-store';
import { LogPushProvider } from './adapters/log.push-provider';
import { LogSmsProvider } from './adapters/log.sms-provider';
import type { PushProvider } from './adapters/push-provider';
import type { RateLimiter } from './adapters/rate-limiter';
import { S3BlobStore } from './adapters/s3.blob-store';
import type { SmsProvider } from './adapters/sms-provider';
import type { Config } from './config';
import type { Logger } from './logger';
import { Metrics, noMetrics } from './services/metrics';

/** Which adapter each outside part is, as the configuration chooses it. */

export function createBlobStore(config: Config): BlobStore {
  return config.s3 ? new S3BlobStore(config.s3) : new LocalBlobStore(path.join(config.dataDir, 'blobs'));
}

export function createPushProvider(config: Config, log: Logger): PushProvider {
  if (config.pushProvider === 'getui' && config.getui) return new GetuiClient({ ...config.getui, log });
  return new LogPushProvider(log);
}

export function createSmsProvider(config: Config, log: Logger): SmsProvider {
  return config.aliyunSms ? new AliyunSmsProvider(config.aliyunSms) : new LogSmsProvider(log);
}

/** Counters in Redis when REDIS_URL is set, else in the database on the app's own connections. */
export async function createRateLimiter(config: Config, db: DataSource, log: Logger, metrics: Metrics = noMetrics): Promise<RateLimiter> {
  let store: RateLimitStore;
  if (config.redisUrl) {
    const client = new Redis(config.redisUrl, {
      lazyConnect: true,
      // Fail fast while Redis is away: the per-instance insurance limiter answers meanwhile.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      // A register charges two counters at once: their commands leave in one write, not one each.
      enableAutoPipelining: true,
    });
    client.on('error', (err) => log.warn({ err }, 'Redis (rate limits) connection error'));
    await client.connect();
    store = { kind: 'redis', client, keyPrefix: config.redisKeyPrefix };
  } else if (config.database.kind === 'mysql') {
    store = { kind: 'mysql', pool: (db.driver as unknown as { pool: unknown }).pool, database: config.database.database };
  } else {
    store = { kind: 'sqlite', connection: (db.driver as unknown as { databaseConnection: unknown }).databaseConnection };
  }
  return new FlexibleRateLimiter(config.rateLimits, store, log, (rule) => metrics.rateLimited(rule));
}
