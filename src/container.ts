import type { DataSource } from 'typeorm';
import type { ContainerType } from 'type-graphql';
import type { BlobStore } from './adapters/blob-store';
import type { PushProvider } from './adapters/push-provider';
import type { RateLimiter } from './adapters/rate-limiter';
import { LimiterDiscoveryBudget } from './adapters/discovery-budget';
import type { PrometheusMetrics } from './adapters/prometheus.metrics';
import type { SmsProvider } from './adapters/sms-provider';
import {
  Config,
  redactUrl,
  RETENTION_BATCH_SIZE,
  RETENTION_INTERVAL_MS,
  SWEEP_BATCH_SIZE,
  SWEEP_LEASE_MS,
  VERIFICATION_CODE_TTL_SECONDS,
  VERIFICATION_MAX_ATTEMPTS,
} from './config';
import { createDataSource, truncateWal } from './database';
import { StartupError } from './errors';
import type { Logger } from './logger';
import { TypeormAccountExportRepository } from './repositories/account-export.typeorm-repository';
import { TypeormAccountLifecycleRepository } from './repositories/account-lifecycle.typeorm-repository';
import { TypeormGroupRepository } from './repositories/group.typeorm-repository';
import { TypeormImageRepository } from './repositories/image.typeorm-repository';
import { TypeormMessageRepository } from './repositories/message.typeorm-repository';
import { MysqlBatch } from './repositories/mysql-batch';
import type { PushJobRepository } from './repositories/push-job.repository';
import { TypeormPushJobRepository } from './repositories/push-job.typeorm-repository';
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
import { createBlobStore, createPushProvider, createRateLimiter, createSmsProvider } from './adapters.wiring';
import type { RealtimeService } from './services/realtime.service';
import { AccountService } from './services/account.service';
import { AccountLifecycleService } from './services/account-lifecycle.service';
import { DownloadTokens } from './services/download-tokens';
import { receiptJobs, ReceiptSigner } from './services/receipts';
import { loadServerKeys } from './server-keys.wiring';
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

export async function createContainer(config: Config, log: Logger): Promise<Container> {
  const db = createDataSource(config.database);
  await db.initialize().catch((e: Error) => {
    const where =
      config.database.kind === 'mysql'
        ? `DATABASE_URL=${redactUrl(config.database.url)}`
        : `the SQLite file ${config.database.file}, from DATABASE_URL or else DATA_DIR`;
    throw new StartupError(`cannot open the database (${where}): ${reasonOf(e)}`, { cause: e });
  });
  // Lazy: no connection is opened until a hot path first goes through it.
  const batch = MysqlBatch.of(db);
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
    const messages = new TypeormMessageRepository(db, batch);
    const { keys, downloadSecret, codeSecret, pinPepper, formSecret, receipts } = await loadServerKeys(config, db, log);
    const receiptPushes = receiptJobs(receipts);

    const pushJobs = new TypeormPushJobRepository(db);
    const push = createPushProvider(config, log);
    let prometheus: PrometheusMetrics | null = null;
    if (config.metricsPort !== null) {
      // prom-client is loaded only when metrics are on. Scrapes read the outbox and the health
      // checks (made below), never before they exist.
      const { PrometheusMetrics } = await import('./adapters/prometheus.metrics');
      prometheus = new PrometheusMetrics({
        readOutbox: () => outbox.lag(),
        readReadiness: async () => (await health.readiness()).ready,
        log,
      });
    }
    const metrics: Metrics = prometheus ?? noMetrics;
    const dispatcher = new PushDispatcher({ jobs: pushJobs, provider: push, log, metrics }, config.push);
    const outbox = new PushOutbox(pushJobs, dispatcher);

    const rateLimiter = await createRateLimiter(config, db, log, metrics);
    limiter = rateLimiter;
    const sms = createSmsProvider(config, log);
    const codes = new TypeormVerificationCodeRepository(db);
    const verification = new VerificationService(
      codes,
      sms,
      rateLimiter,
      {
        codeTtlSeconds: VERIFICATION_CODE_TTL_SECONDS,
        maxAttempts: VERIFICATION_MAX_ATTEMPTS,
        testNumbers: config.smsTestNumbers,
        codeSecret,
      },
      log,
    );
    const imageRows = new TypeormImageRepository(db);
    const registrationLock = new RegistrationLockService(users, rateLimiter, {
      lapseMs: config.registrationLockDays * 86_400_000,
      pepper: pinPepper,
    });
    const accounts = new AccountService({
      users,
      verification,
      lock: registrationLock,
      cleanup: { blobs, images: imageRows, pushes: outbox, receipts: receiptPushes },
      log,
      limiter: rateLimiter,
    });
    const accountLifecycle = new AccountLifecycleService({
      users,
      rows: new TypeormAccountLifecycleRepository(db),
      exports: new TypeormAccountExportRepository(db),
      verification,
      limiter: rateLimiter,
      cleanup: { blobs, pushes: outbox, receipts: receiptPushes },
      log,
    });
    const socialRows = new TypeormSocialRepository(db);
    const social = new SocialService({
      users,
      social: socialRows,
      budget: new LimiterDiscoveryBudget(rateLimiter),
      pushes: outbox,
      log,
      limiter: rateLimiter,
    });
    const groups = new GroupService(
      { users, groups: new TypeormGroupRepository(db), social: socialRows, limiter: rateLimiter },
      { maxGroupMembers: config.maxGroupMembers },
    );
    const imageDeps = { messages, users, blobs, pushes: outbox, keys, receipts: receiptPushes, log, limiter: rateLimiter, metrics };
    const images: ImageServices = {
      sending: new ImageSendService(
        {
          ...imageDeps,
          audience: {
            direct: (sender, receiverUid) => social.directDelivery(sender, receiverUid),
            group: (sender, groupId) => groups.groupDelivery(sender, groupId),
          },
        },
        { maxImageBytes: config.maxImageBytes, imageTtlSeconds: config.imageTtlSeconds, encryptUploads: config.encryptUploads },
      ),
      inbox: new ImageInboxService(imageDeps, { autoConfirmSeconds: config.autoConfirmSeconds }),
      sent: new SentImagesService(messages),
      downloads: new ImageDownloadService(
        { ...imageDeps, tokens: new DownloadTokens(downloadSecret) },
        { downloadUrlTtlSeconds: config.downloadUrlTtlSeconds, publicUrl: config.publicUrl },
      ),
    };

    const lifecycle = new LifecycleService(
      { images: imageRows, blobs, log, metrics },
      { orphanGraceMs: config.orphanGraceSeconds * 1000, batchSize: SWEEP_BATCH_SIZE, leaseMs: SWEEP_LEASE_MS, receipts: receiptPushes },
    );
    const retention = new RetentionService(
      messages,
      pushJobs,
      codes,
      {
        downloadUrlTtlMs: config.downloadUrlTtlSeconds * 1000,
        pushJobRetentionMs: config.pushJobRetentionDays * 86_400_000,
        messageRetentionMs: config.messageRetentionDays * 86_400_000,
        batchSize: RETENTION_BATCH_SIZE,
      },
      log,
    );
    const scheduler = new Scheduler(log)
      .every('expiry sweep', config.sweepIntervalSeconds * 1000, () => lifecycle.sweep())
      .every('orphan collection', config.orphanGcIntervalSeconds * 1000, () => lifecycle.collectOrphans())
      .every('auto-confirm', Math.min(config.autoConfirmSeconds, config.sweepIntervalSeconds) * 1000, () => images.inbox.autoConfirm())
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
        await batch?.close();
        await db.destroy();
      },
    };
  } catch (e) {
    await realtimeService?.stop().catch(() => undefined);
    await limiter?.close().catch(() => undefined);
    await batch?.close().catch(() => undefined);
    await db.destroy().catch(() => undefined);
    throw e;
  }
}

/** A connection error's message can be empty (an AggregateError of every address tried). */
function reasonOf(e: Error & { code?: string }): string {
  return e.message || e.code || e.name || String(e);
}
