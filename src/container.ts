import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import type { ContainerType } from 'type-graphql';
import { AliyunSmsProvider } from './adapters/aliyun.sms-provider';
import type { BlobStore } from './adapters/blob-store';
import { FlexibleRateLimiter, RateLimitStore } from './adapters/flexible.rate-limiter';
import { GetuiClient } from './adapters/getui.client';
import { LocalBlobStore } from './adapters/local.blob-store';
import { LogPushProvider } from './adapters/log.push-provider';
import { LogSmsProvider } from './adapters/log.sms-provider';
import type { PushProvider } from './adapters/push-provider';
import type { RateLimiter } from './adapters/rate-limiter';
import { LimiterDiscoveryBudget } from './adapters/discovery-budget';
import type { PrometheusMetrics } from './adapters/prometheus.metrics';
import { S3BlobStore } from './adapters/s3.blob-store';
import type { SmsProvider } from './adapters/sms-provider';
import { Config, redactUrl } from './config';
import { createDataSource, truncateWal } from './database';
import { StartupError } from './errors';
import type { Logger } from './logger';
import { TypeormAccountExportRepository } from './repositories/account-export.typeorm-repository';
import { TypeormAccountLifecycleRepository } from './repositories/account-lifecycle.typeorm-repository';
import { TypeormGroupRepository } from './repositories/group.typeorm-repository';
import { TypeormImageRepository } from './repositories/image.typeorm-repository';
import { TypeormMessageRepository } from './repositories/message.typeorm-repository';
import type { PushJobRepository } from './repositories/push-job.repository';
import { TypeormPushJobRepository } from './repositories/push-job.typeorm-repository';
import { TypeormSecretRepository } from './repositories/secret.typeorm-repository';
import { loadMasterKeys } from './master-key';
import { ServerSecrets } from './services/server-secrets';
import { TypeormSocialRepository } from './repositories/social.typeorm-repository';
import { TypeormUserRepository } from './repositories/user.typeorm-repository';
import { TypeormVerificationCodeRepository } from './repositories/verification-code.typeorm-repository';
import { AccountLifecycleResolver } from './resolvers/account-lifecycle.resolver';
import { GroupResolver } from './resolvers/group.resolver';
import { MessageResolver } from './resolvers/message.resolver';
import { RegistrationLockResolver } from './resolvers/registration-lock.resolver';
import { SocialResolver } from './resolvers/social.resolver';
import { UserResolver } from './resolvers/user.resolver';
import { VerificationResolver } from './resolvers/verification.resolver';
import { EventResolver } from './resolvers/event.resolver';
import { createRealtime } from './realtime.wiring';
import type { RealtimeService } from './services/realtime.service';
import { AccountService } from './services/account.service';
import { AccountLifecycleService } from './services/account-lifecycle.service';
import { DownloadTokens } from './services/download-tokens';
import { KeyWrapper } from './services/cipher/key-wrapper';
import { receiptJobs, ReceiptSigner } from './services/receipts';
import { HealthService } from './services/health.service';
import { GroupService } from './services/group.service';
import { ImageDownloadService } from './services/image-download.service';
import { ImageInboxService } from './services/image-inbox.service';
import { ImageSendService } from './services/image-send.service';
import { LifecycleService } from './services/lifecycle.service';
import { Metrics, noMetrics } from './services/metrics';
import { RetentionService } from './services/retention.service';
import { Scheduler } from './services/scheduler';
import { PushDispatcher } from './services/push.dispatcher';
import { PushOutbox } from './services/push.outbox';
import { RegistrationLockService } from './services/registration-lock.service';
import { VerificationService } from './services/verification.service';
import { SocialService } from './services/social.service';
import { SentImagesService } from './services/sent-images.service';

/** Everything the server is made of, wired once: adapters → repositories → services → resolvers. */
export interface Container {
  config: Config;
  log: Logger;
  db: DataSource;
  blobs: BlobStore;
  accounts: AccountService;
  /** Sign-out, number change, deletion (in the app and on the web page) and data export. */
  accountLifecycle: AccountLifecycleService;
  /** Keys the form tokens of the account deletion page (GET /account/delete). */
  formSecret: Buffer;
  images: ImageServices;
  social: SocialService;
  groups: GroupService;
  lifecycle: LifecycleService;
  /** Deletes download grants, push jobs, verification codes and ended messages that have served their purpose. */
  retention: RetentionService;
  /** Background tasks of this instance; started by the server once it listens. */
  scheduler: Scheduler;
  push: PushProvider;
  pushJobs: PushJobRepository;
  outbox: PushOutbox;
  /** Sends the outbox's jobs; started by startServer, stopped (in-flight jobs finished) by close. */
  dispatcher: PushDispatcher;
  verification: VerificationService;
  sms: SmsProvider;
  limiter: RateLimiter;
  health: HealthService;
  /** Signs image_destroyed receipts; its public key is served at /.well-known/glimpse-receipt-key. */
  receipts: ReceiptSigner;
  /** Subscriptions: the viewer's events over WebSocket, from whichever instance committed them. */
  realtime: RealtimeService;
  /** Hands TypeGraphQL the resolver instances built here. */
  resolvers: ContainerType;
  /** What the services count; counts nothing unless METRICS_PORT is set. */
  metrics: Metrics;
  /** The same, as Prometheus scrapes it; null when METRICS_PORT is 0. */
  prometheus: PrometheusMetrics | null;
  close(): Promise<void>;
}

/** The image domain, one service per job. */
export interface ImageServices {
  sending: ImageSendService;
  /** The receiver's side: one message, the pending list, screenshots, confirming. */
  inbox: ImageInboxService;
  /** The sender's side: what became of each image sent. */
  sent: SentImagesService;
  /** Download URLs and the bytes behind them. */
  downloads: ImageDownloadService;
}

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

export async function createContainer(config: Config, log: Logger): Promise<Container> {
  const db = createDataSource(config.database);
  await db.initialize().catch((e: Error) => {
    const where =
      config.database.kind === 'mysql'
        ? `DATABASE_URL=${redactUrl(config.database.url)}`
        : `the SQLite file ${config.database.file}, from DATABASE_URL or else DATA_DIR`;
    throw new StartupError(`cannot open the database (${where}): ${reasonOf(e)}`, { cause: e });
  });
  let limiter: RateLimiter | undefined;
  let realtimeService: RealtimeService | undefined;
  try {
    if (config.migrationsRun) await db.runMigrations({ transaction: 'each' });
    const blobs = createBlobStore(config);
    await blobs.init().catch((e: Error) => {
      const where = config.s3 ? `S3_ENDPOINT, S3_BUCKET: ${blobs.description}` : `DATA_DIR=${config.dataDir}`;
      throw new StartupError(`cannot reach the blob store (${where}): ${reasonOf(e)}`, { cause: e });
    });

    const users = new TypeormUserRepository(db);
    const messages = new TypeormMessageRepository(db);
    const masterKeys = await loadMasterKeys(config, log, { create: true });
    const keys = new KeyWrapper(masterKeys.current, masterKeys.previous);
    // The server's own secrets are kept wrapped by the master key. A server whose master keys
    // cannot unwrap what the database holds would serve nothing readable: it refuses to start.
    const secrets = new ServerSecrets(new TypeormSecretRepository(db), keys);
    await secrets.verifyMasterKeys(new TypeormImageRepository(db), masterKeys.source);
    const downloadSecret = await secrets.getOrCreate('download-url-hmac', () => randomBytes(32).toString('base64'));
    const receipts = new ReceiptSigner(await secrets.getOrCreate('receipt-ed25519-pkcs8', () => ReceiptSigner.newKey()));

    const pushJobs = new TypeormPushJobRepository(db);
    const push = createPushProvider(config, log);
    let prometheus: PrometheusMetrics | null = null;
    if (config.metricsPort !== null) {
      // prom-client is loaded only when metrics are on. Scrapes read the outbox and the health
      // checks (made below), never before they exist.
      const { PrometheusMetrics } = await import('./adapters/prometheus.metrics');
      prometheus = new PrometheusMetrics({ readOutbox: () => outbox.lag(), readReadiness: async () => (await health.readiness()).ready, log });
    }
    const metrics: Metrics = prometheus ?? noMetrics;
    const dispatcher = new PushDispatcher(pushJobs, push, config.push, log, undefined, undefined, metrics);
    const outbox = new PushOutbox(pushJobs, dispatcher);

    const codeSecret = await secrets.getOrCreate('verification-code-hmac', () => randomBytes(32).toString('base64'));
    const rateLimiter = await createRateLimiter(config, db, log, metrics);
    limiter = rateLimiter;
    const sms = createSmsProvider(config, log);
    const codes = new TypeormVerificationCodeRepository(db);
    const verification = new VerificationService(
      codes,
      sms,
      rateLimiter,
      { codeTtlSeconds: 600, maxAttempts: 5, testNumbers: config.smsTestNumbers, codeSecret: Buffer.from(codeSecret, 'base64') },
      log,
    );
    const imageRows = new TypeormImageRepository(db);
    const pinPepper = await secrets.getOrCreate('registration-lock-pepper', () => randomBytes(32).toString('base64'));
    const registrationLock = new RegistrationLockService(users, rateLimiter, {
      lapseMs: config.registrationLockDays * 86_400_000,
      pepper: Buffer.from(pinPepper, 'base64'),
    });
    const accounts = new AccountService(users, verification, registrationLock, { blobs, images: imageRows, pushes: outbox, receipts: receiptJobs(receipts) }, log, undefined, rateLimiter);
    const accountLifecycle = new AccountLifecycleService(
      users,
      new TypeormAccountLifecycleRepository(db),
      new TypeormAccountExportRepository(db),
      verification,
      rateLimiter,
      { blobs, pushes: outbox, receipts: receiptJobs(receipts) },
      log,
    );
    const formSecret = Buffer.from(await secrets.getOrCreate('account-delete-form-hmac', () => randomBytes(32).toString('base64')), 'base64');
    const socialRows = new TypeormSocialRepository(db);
    const social = new SocialService(
      users,
      socialRows,
      new LimiterDiscoveryBudget(rateLimiter),
      outbox,
      log,
      undefined,
      rateLimiter,
    );
    const groups = new GroupService(users, new TypeormGroupRepository(db), socialRows, { maxGroupMembers: config.maxGroupMembers }, undefined, rateLimiter);
    const imageDeps = { messages, users, blobs, pushes: outbox, keys, receipts: receiptJobs(receipts), log, limiter: rateLimiter, metrics };
    const images: ImageServices = {
      sending: new ImageSendService(
        {
          ...imageDeps,
          audience: { direct: (sender, receiver) => social.directDelivery(sender, receiver), group: (sender, groupId) => groups.groupDelivery(sender, groupId) },
        },
        { maxImageBytes: config.maxImageBytes, imageTtlSeconds: config.imageTtlSeconds, encryptUploads: config.encryptUploads },
      ),
      inbox: new ImageInboxService(imageDeps, { autoConfirmSeconds: config.autoConfirmSeconds }),
      sent: new SentImagesService(messages),
      downloads: new ImageDownloadService(
        { ...imageDeps, tokens: new DownloadTokens(Buffer.from(downloadSecret, 'base64')) },
        { downloadUrlTtlSeconds: config.downloadUrlTtlSeconds, publicUrl: config.publicUrl },
      ),
    };

    const lifecycle = new LifecycleService(
      imageRows,
      blobs,
      { orphanGraceMs: config.orphanGraceSeconds * 1000, batchSize: 100, leaseMs: 5 * 60_000, receipts: receiptJobs(receipts) },
      log,
      undefined,
      metrics,
    );
    const retention = new RetentionService(
      messages,
      pushJobs,
      codes,
      {
        downloadUrlTtlMs: config.downloadUrlTtlSeconds * 1000,
        pushJobRetentionMs: config.pushJobRetentionDays * 86_400_000,
        messageRetentionMs: config.messageRetentionDays * 86_400_000,
        batchSize: 1000,
      },
      log,
    );
    const scheduler = new Scheduler(log)
      .every('expiry sweep', config.sweepIntervalSeconds * 1000, () => lifecycle.sweep())
      .every('orphan collection', config.orphanGcIntervalSeconds * 1000, () => lifecycle.collectOrphans())
      .every('auto-confirm', Math.min(config.autoConfirmSeconds, config.sweepIntervalSeconds) * 1000, () => images.inbox.autoConfirm())
      // Every few minutes, so that each run deletes a small backlog; a run with nothing to do is
      // three index lookups.
      .every('retention prune', RETENTION_INTERVAL_MS, async () => {
        await retention.prune();
        await truncateWal(db);
      });
    const health = new HealthService(
      [
        { name: 'database', ping: async () => void (await db.query('SELECT 1')) },
        { name: 'blobStore', ping: () => blobs.ping() },
      ],
      log,
    );

    const realtime = await createRealtime(config, pushJobs, accounts, log, metrics);
    realtimeService = realtime;

    const instances = new Map<unknown, unknown>([
      [EventResolver, new EventResolver(images.inbox, social)],
      [UserResolver, new UserResolver(accounts, social)],
      [MessageResolver, new MessageResolver(images.sending, images.inbox, images.sent, images.downloads, groups)],
      [VerificationResolver, new VerificationResolver(verification)],
      [SocialResolver, new SocialResolver(social)],
      [GroupResolver, new GroupResolver(groups)],
      [RegistrationLockResolver, new RegistrationLockResolver(registrationLock)],
      [AccountLifecycleResolver, new AccountLifecycleResolver(accountLifecycle)],
    ]);
    const resolvers: ContainerType = {
      get: (cls) => {
        const found = instances.get(cls);
        if (!found) throw new Error(`no resolver instance for ${(cls as { name?: string }).name}`);
        return found;
      },
    };

    return {
      config,
      log,
      db,
      blobs,
      accounts,
      accountLifecycle,
      formSecret,
      images,
      social,
      groups,
      lifecycle,
      retention,
      scheduler,
      push,
      pushJobs,
      outbox,
      dispatcher,
      verification,
      sms,
      limiter: rateLimiter,
      health,
      receipts,
      realtime,
      resolvers,
      metrics,
      prometheus,
      close: async () => {
        await realtime.stop();
        await scheduler.stop();
        await dispatcher.stop();
        await rateLimiter.close();
        await db.destroy();
      },
    };
  } catch (e) {
    await realtimeService?.stop().catch(() => undefined);
    await limiter?.close().catch(() => undefined);
    await db.destroy().catch(() => undefined);
    throw e;
  }
}

const RETENTION_INTERVAL_MS = 10 * 60_000;

/** A connection error's message can be empty (an AggregateError of every address tried). */
function reasonOf(e: Error & { code?: string }): string {
  return e.message || e.code || e.name || String(e);
}
