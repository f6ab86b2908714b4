import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { ContainerType } from 'type-graphql';
import type { BlobStore } from './adapters/blob-store';
import { LocalBlobStore } from './adapters/local.blob-store';
import { S3BlobStore } from './adapters/s3.blob-store';
import { Config, redactUrl } from './config';
import { createDataSource } from './database';
import { StartupError } from './errors';
import type { Logger } from './logger';
import { TypeormMessageRepository } from './repositories/message.typeorm-repository';
import { TypeormSecretRepository } from './repositories/secret.typeorm-repository';
import { TypeormUserRepository } from './repositories/user.typeorm-repository';
import { MessageResolver } from './resolvers/message.resolver';
import { UserResolver } from './resolvers/user.resolver';
import { AccountService } from './services/account.service';
import { DownloadTokens } from './services/download-tokens';
import { HealthService } from './services/health.service';
import { ImageService } from './services/image.service';
import path from 'node:path';

/** Everything the server is made of, wired once: adapters → repositories → services → resolvers. */
export interface Container {
  config: Config;
  log: Logger;
  db: DataSource;
  blobs: BlobStore;
  accounts: AccountService;
  images: ImageService;
  health: HealthService;
  /** Hands TypeGraphQL the resolver instances built here. */
  resolvers: ContainerType;
  close(): Promise<void>;
}

export function createBlobStore(config: Config): BlobStore {
  return config.s3 ? new S3BlobStore(config.s3) : new LocalBlobStore(path.join(config.dataDir, 'blobs'));
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
  try {
    if (config.migrationsRun) await db.runMigrations({ transaction: 'each' });
    const blobs = createBlobStore(config);
    await blobs.init().catch((e: Error) => {
      const where = config.s3 ? `S3_ENDPOINT, S3_BUCKET: ${blobs.description}` : `DATA_DIR=${config.dataDir}`;
      throw new StartupError(`cannot reach the blob store (${where}): ${reasonOf(e)}`, { cause: e });
    });

    const users = new TypeormUserRepository(db);
    const messages = new TypeormMessageRepository(db);
    const secrets = new TypeormSecretRepository(db);
    const downloadSecret = await secrets.getOrCreate('download-url-hmac', () => randomBytes(32).toString('base64'));

    const accounts = new AccountService(users);
    const images = new ImageService(
      messages,
      users,
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

    const health = new HealthService(
      [
        { name: 'database', ping: async () => void (await db.query('SELECT 1')) },
        { name: 'blobStore', ping: () => blobs.ping() },
      ],
      log,
    );

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
      health,
      resolvers,
      close: async () => {
        await db.destroy();
      },
    };
  } catch (e) {
    await db.destroy().catch(() => undefined);
    throw e;
  }
}

/** A connection error's message can be empty (an AggregateError of every address tried). */
function reasonOf(e: Error & { code?: string }): string {
  return e.message || e.code || e.name || String(e);
}
