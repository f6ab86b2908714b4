import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { ContainerType } from 'type-graphql';
import type { BlobStore } from './adapters/blob-store';
import { GetuiClient } from './adapters/getui.client';
import { LocalBlobStore } from './adapters/local.blob-store';
import { LogPushProvider } from './adapters/log.push-provider';
import type { PushProvider } from './adapters/push-provider';
import { S3BlobStore } from './adapters/s3.blob-store';
import type { Config } from './config';
import { createDataSource } from './database';
import type { Logger } from './logger';
import { TypeormImageRepository } from './repositories/image.typeorm-repository';
import { TypeormMessageRepository } from './repositories/message.typeorm-repository';
import type { PushJobRepository } from './repositories/push-job.repository';
import { TypeormPushJobRepository } from './repositories/push-job.typeorm-repository';
import { TypeormSecretRepository } from './repositories/secret.typeorm-repository';
import { TypeormUserRepository } from './repositories/user.typeorm-repository';
import { MessageResolver } from './resolvers/message.resolver';
import { UserResolver } from './resolvers/user.resolver';
import { AccountService } from './services/account.service';
import { DownloadTokens } from './services/download-tokens';
import { ImageService } from './services/image.service';
import { LifecycleService } from './services/lifecycle.service';
import { Scheduler } from './services/scheduler';
import { PushDispatcher } from './services/push.dispatcher';
import { PushOutbox } from './services/push.outbox';

/** Everything the server is made of, wired once: adapters → repositories → services → resolvers. */
export interface Container {
  config: Config;
  log: Logger;
  db: DataSource;
  blobs: BlobStore;
  accounts: AccountService;
  images: ImageService;
  lifecycle: LifecycleService;
  /** Background tasks of this instance; started by the server once it listens. */
  scheduler: Scheduler;
  push: PushProvider;
  pushJobs: PushJobRepository;
  outbox: PushOutbox;
  /** Sends the outbox's jobs; started by startServer, stopped (in-flight jobs finished) by close. */
  dispatcher: PushDispatcher;
  /** Hands TypeGraphQL the resolver instances built here. */
  resolvers: ContainerType;
  close(): Promise<void>;
}

export function createBlobStore(config: Config): BlobStore {
  return config.s3 ? new S3BlobStore(config.s3) : new LocalBlobStore(path.join(config.dataDir, 'blobs'));
}

export function createPushProvider(config: Config, log: Logger): PushProvider {
  if (config.pushProvider === 'getui' && config.getui) return new GetuiClient({ ...config.getui, log });
  return new LogPushProvider(log);
}

export async function createContainer(config: Config, log: Logger): Promise<Container> {
  const db = createDataSource(config.database);
  await db.initialize();
  try {
    if (config.migrationsRun) await db.runMigrations({ transaction: 'each' });
    const blobs = createBlobStore(config);
    await blobs.init();

    const users = new TypeormUserRepository(db);
    const messages = new TypeormMessageRepository(db);
    const secrets = new TypeormSecretRepository(db);
    const downloadSecret = await secrets.getOrCreate('download-url-hmac', () => randomBytes(32).toString('base64'));

    const pushJobs = new TypeormPushJobRepository(db);
    const push = createPushProvider(config, log);
    const dispatcher = new PushDispatcher(pushJobs, push, config.push, log);
    const outbox = new PushOutbox(pushJobs, dispatcher);

    const accounts = new AccountService(users);
    const images = new ImageService(
      messages,
      users,
      blobs,
      new DownloadTokens(Buffer.from(downloadSecret, 'base64')),
      outbox,
      {
        maxImageBytes: config.maxImageBytes,
        imageTtlSeconds: config.imageTtlSeconds,
        downloadUrlTtlSeconds: config.downloadUrlTtlSeconds,
        publicUrl: config.publicUrl,
      },
      log,
    );

    const lifecycle = new LifecycleService(
      new TypeormImageRepository(db),
      blobs,
      { orphanGraceMs: config.orphanGraceSeconds * 1000, batchSize: 100, leaseMs: 5 * 60_000 },
      log,
    );
    const scheduler = new Scheduler(log)
      .every('expiry sweep', config.sweepIntervalSeconds * 1000, () => lifecycle.sweep())
      .every('orphan collection', config.orphanGcIntervalSeconds * 1000, () => lifecycle.collectOrphans());

    const instances = new Map<unknown, unknown>([
      [UserResolver, new UserResolver(accounts)],
      [MessageResolver, new MessageResolver(images)],
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
      images,
      lifecycle,
      scheduler,
      push,
      pushJobs,
      outbox,
      dispatcher,
      resolvers,
      close: async () => {
        await scheduler.stop();
        await dispatcher.stop();
        await db.destroy();
      },
    };
  } catch (e) {
    await db.destroy().catch(() => undefined);
    throw e;
  }
}
