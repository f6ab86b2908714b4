import { createHash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../../../src/config';
import { createDataSource } from '../../../src/database';
import type { Message } from '../../../src/entities/message.entity';
import type { AccountExportRepository, AccountLifecycleRepository } from '../../../src/repositories/account-lifecycle.repository';
import { TypeormAccountExportRepository } from '../../../src/repositories/account-export.typeorm-repository';
import { TypeormAccountLifecycleRepository } from '../../../src/repositories/account-lifecycle.typeorm-repository';
import type { MessageRepository, NewImage, NewMessage, ReceiptJobs } from '../../../src/repositories/message.repository';
import { TypeormMessageRepository } from '../../../src/repositories/message.typeorm-repository';
import { MysqlBatch } from '../../../src/repositories/mysql-batch';
import type { NewPushJob, PushJobRepository } from '../../../src/repositories/push-job.repository';
import { TypeormPushJobRepository } from '../../../src/repositories/push-job.typeorm-repository';
import type { SocialRepository } from '../../../src/repositories/social.repository';
import { TypeormSocialRepository } from '../../../src/repositories/social.typeorm-repository';
import type { DeviceRegistration, UserRepository } from '../../../src/repositories/user.repository';
import { TypeormUserRepository } from '../../../src/repositories/user.typeorm-repository';
import type { VerificationCodeRepository } from '../../../src/repositories/verification-code.repository';
import { TypeormVerificationCodeRepository } from '../../../src/repositories/verification-code.typeorm-repository';
import { User } from '../../../src/entities/user.entity';
import { linkedFakes } from '../fakes';

/**
 * One set of repositories over one store: the real TypeORM ones over a database, or the fakes
 * wired to each other as the tables are. The contracts run the same expectations on each.
 */
export interface World {
  users: UserRepository;
  messages: MessageRepository;
  pushJobs: PushJobRepository;
  codes: VerificationCodeRepository;
  social: SocialRepository;
  lifecycle: AccountLifecycleRepository;
  exports: AccountExportRepository;
  /** Empties the store, so that the next test starts from nothing. */
  cleanup(): Promise<void>;
}

export type WorldFactory = () => Promise<World>;

/**
 * Call inside a `describe`: each test gets a fresh world from `make`, emptied after it. The
 * answer stands for the current test's world (`w.users` is that world's users).
 */
export function useWorld(make: WorldFactory): World {
  let current: World | undefined;
  beforeEach(async () => {
    current = await make();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return new Proxy({} as World, {
    get: (_, key) => {
      if (!current) throw new Error('useWorld(): no test is running');
      return current[key as keyof World];
    },
  });
}

/** The fakes of test/support/fakes.ts, each fresh. */
export const fakeWorld: WorldFactory = async () => ({ ...linkedFakes(), cleanup: async () => undefined });

/** A migrated database and a factory of worlds over it; each world's cleanup deletes every row. */
export async function databaseWorlds(config: DatabaseConfig): Promise<{ make: WorldFactory; close(): Promise<void> }> {
  const db: DataSource = createDataSource(config);
  await db.initialize();
  await db.runMigrations({ transaction: 'each' });
  const mysql = db.options.type === 'mysql';
  // On MySQL the message repository sends some statements together, as the server's does.
  const batch = MysqlBatch.of(db);
  const tables = db.entityMetadatas.map((m) => db.driver.escape(m.tableName));
  const cleanup = async () => {
    // Whatever the order of the foreign keys, every table ends empty. One connection: the
    // switch holds for its session only.
    const q = db.createQueryRunner();
    await q.connect();
    try {
      await q.query(mysql ? 'SET FOREIGN_KEY_CHECKS = 0' : 'PRAGMA foreign_keys = OFF');
      for (const t of tables) await q.query(`DELETE FROM ${t}`);
    } finally {
      await q.query(mysql ? 'SET FOREIGN_KEY_CHECKS = 1' : 'PRAGMA foreign_keys = ON').catch(() => undefined);
      await q.release();
    }
  };
  return {
    make: async () => ({
      users: new TypeormUserRepository(db),
      messages: new TypeormMessageRepository(db, batch),
      pushJobs: new TypeormPushJobRepository(db),
      codes: new TypeormVerificationCodeRepository(db),
      social: new TypeormSocialRepository(db),
      lifecycle: new TypeormAccountLifecycleRepository(db),
      exports: new TypeormAccountExportRepository(db),
      cleanup,
    }),
    close: async () => {
      await batch?.close();
      await db.destroy();
    },
  };
}

/** A fixed clock for the contracts: `at(s)` is T0 plus `s` seconds. */
export const T0 = new Date('2026-03-02T10:00:00.000Z');
export const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

let devices = 0;
const hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** A new phone's registration (unique in the run), at T0 unless `now` is given. */
export function newDevice(overrides: Partial<DeviceRegistration> = {}): DeviceRegistration {
  devices += 1;
  const phoneNum = `139${String(devices).padStart(8, '0')}`;
  return {
    phoneHash: hex(`+86${phoneNum}:${randomBytes(4).toString('hex')}`),
    regionNum: '86',
    phoneNum,
    nickname: `user${devices}`,
    cid: `cid-${devices}-${randomBytes(4).toString('hex')}`,
    ukeyHash: hex(`ukey${devices}`),
    now: T0,
    ...overrides,
  };
}

/** `n` new users, registered one after another (uids in that order). */
export async function someUsers(w: World, n: number): Promise<User[]> {
  const out: User[] = [];
  for (let i = 0; i < n; i++) out.push(await aUser(w));
  return out;
}

/** Receipts as the services build them, one push to each sender naming the message and the reason. */
export const receipts: ReceiptJobs = (destroyed) =>
  destroyed.map((d) => ({
    receiverUid: d.senderUid,
    kind: 'receipt',
    payload: JSON.stringify({ id: d.id, reason: d.endReason }),
    expiresAt: null,
  }));

/** The receipts written to `uid`, as { id, reason }. */
export async function receiptsTo(w: World, uid: number): Promise<{ id: number; reason: string }[]> {
  return (await pushesTo(w, uid)).filter((p) => p.kind === 'receipt').map((p) => JSON.parse(p.payload));
}

/** Registers a new user through the repository and answers it. */
export async function aUser(w: World, overrides: Partial<DeviceRegistration> = {}): Promise<User> {
  return (await w.users.registerDevice(newDevice(overrides))).user;
}

/** The facts of a new image (unique object name), living `ttlSeconds` from `createdAt`. */
export function newImage(createdAt = T0, ttlSeconds = 3600, overrides: Partial<NewImage> = {}): NewImage {
  const objectName = randomBytes(32).toString('hex');
  return {
    objectName,
    filetype: 'image/jpeg',
    size: 1234,
    sha256: hex(objectName),
    cipher: 'aes256gcm-256k',
    wrappedKey: randomBytes(40).toString('base64'),
    keyId: 'k1',
    expiresAt: new Date(createdAt.getTime() + ttlSeconds * 1000),
    createdAt,
    ...overrides,
  };
}

/** A push for each message, as a send writes it. */
export const imagePush = (m: Message): NewPushJob => ({
  receiverUid: m.receiverUid,
  kind: 'image',
  payload: JSON.stringify({ message_id: m.id }),
  expiresAt: null,
});

/** Sends one image from `from` to each of `to` (one message each), with a push per message. */
export async function anImage(
  w: World,
  from: User,
  to: User[],
  options: { createdAt?: Date; ttlSeconds?: number; blocked?: User[]; groupId?: number | null } = {},
): Promise<Message[]> {
  const createdAt = options.createdAt ?? T0;
  const messages: NewMessage[] = to.map((r) => ({
    messageKey: randomBytes(32).toString('hex'),
    senderUid: from.uid,
    receiverUid: r.uid,
    sendTime: createdAt,
    ...(options.blocked?.some((b) => b.uid === r.uid) ? { endReason: 'blocked' as const } : {}),
  }));
  return w.messages.createImageWithMessages(newImage(createdAt, options.ttlSeconds), messages, (m) => (m.endReason ? null : imagePush(m)));
}

/** Every push job written to `uid`, oldest first, whichever repository wrote it. */
export async function pushesTo(w: World, uid: number): Promise<{ kind: string; payload: string }[]> {
  return (await w.pushJobs.listForReceivers(0, [uid], 1000)).map((j) => ({ kind: j.kind, payload: j.payload }));
}
