import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { ContainerType } from 'type-graphql';
import type { BlobStore } from './adapters/blob-store';
import { LocalBlobStore } from './adapters/local.blob-store';
import { LogPushQueue } from './adapters/log.push-queue';
import { createDiscoveryBudget } from './adapters/rate-limiter.discovery-budget';
import { S3BlobStore } from './adapters/s3.blob-store';
import type { Config } from './config';
import { createDataSource } from './database';
import type { Logger } from './logger';
import { TypeormGroupRepository } from './repositories/group.typeorm-repository';
import { TypeormImageRepository } from './repositories/image.typeorm-repository';
import { TypeormMessageRepository } from './repositories/message.typeorm-repository';
import { TypeormSecretRepository } from './repositories/secret.typeorm-repository';
import { TypeormSocialRepository } from './repositories/social.typeorm-repository';
import { TypeormUserRepository } from './repositories/user.typeorm-repository';
import { GroupResolver } from './resolvers/group.resolver';
import { MessageResolver } from './resolvers/message.resolver';
import { SocialResolver } from './resolvers/social.resolver';
import { UserResolver } from './resolvers/user.resolver';
import { AccountService } from './services/account.service';
import { DownloadTokens } from './services/download-tokens';
import { GroupService } from './services/group.service';
import { ImageService } from './services/image.service';
import { LifecycleService } from './services/lifecycle.service';
import type { PushQueue } from './services/push-queue';
import { Scheduler } from './services/scheduler';
import { SocialService } from './services/social.service';

/** Everything the server is made of, wired once: adapters → repositories → services → resolvers. */
export interface Container {
  config: Config;
  log: Logger;
  db: DataSource;
  blobs: BlobStore;
  accounts: AccountService;
  images: ImageService;
  social: SocialService;
  groups: GroupService;
  /** Where friend and group-image pushes go (log only until they share the push outbox). */
  pushes: PushQueue;
  lifecycle: LifecycleService;
  /** Background tasks of this instance; started by the server once it listens. */
  scheduler: Scheduler;
  /** Hands TypeGraphQL the resolver instances built here. */
  resolvers: ContainerType;
  close(): Promise<void>;
}

export function createBlobStore(config: Config): BlobStore {
  return config.s3 ? new S3BlobStore(config.s3) : new LocalBlobStore(path.join(config.dataDir, 'blobs'));
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

    const accounts = new AccountService(users);
    const pushes: PushQueue = new LogPushQueue(log);
    const socialRows = new TypeormSocialRepository(db);
    const social = new SocialService(
      users,
      socialRows,
      createDiscoveryBudget(db, config.database, config.discoveryDailyLimit),
      pushes,
      log,
    );
    const groups = new GroupService(users, new TypeormGroupRepository(db), socialRows, { maxGroupMembers: config.maxGroupMembers });
    const images = new ImageService(
      messages,
      users,
      { direct: (sender, receiver) => social.directDelivery(sender, receiver), group: (sender, groupId) => groups.groupDelivery(sender, groupId) },
      pushes,
      blobs,
      new DownloadTokens(Buffer.from(downloadSecret, 'base64')),
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
      [MessageResolver, new MessageResolver(images, groups)],
      [SocialResolver, new SocialResolver(social)],
      [GroupResolver, new GroupResolver(groups)],
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
      social,
      groups,
      pushes,
      lifecycle,
      scheduler,
      resolvers,
      close: async () => {
        await scheduler.stop();
        await db.destroy();
      },
    };
  } catch (e) {
    await db.destroy().catch(() => undefined);
    throw e;
  }
}
