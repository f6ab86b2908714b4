import { DataSource, EntityManager, In, IsNull, LessThan, Repository } from 'typeorm';
import { User, WhoCanSend } from '../entities/user.entity';
import { inTransaction, isUniqueViolation } from '../database';
import { insertRows } from './bulk-insert.typeorm';
import { endPendingMessages } from './message.typeorm-repository';
import { insertPushJobs } from './push-job.typeorm-repository';
import type { AccountMove, DeviceRegistered, DeviceRegistration, UserRepository } from './user.repository';

export class TypeormUserRepository implements UserRepository {
  private readonly users: Repository<User>;
  private readonly mysql: boolean;
  private readonly byId: RowLookup<number>;
  private readonly byPhoneHash: RowLookup<string>;
  /** By phone hash, the row locked for the transaction's writes (MySQL; SQLite's transactions are serial). */
  private readonly byPhoneHashLocked: RowLookup<string>;
  /** Every column of a new account but its generated id (insertRows writes these). */
  private readonly newRowColumns: string[];

  constructor(private readonly db: DataSource) {
    this.users = db.getRepository(User);
    this.mysql = db.options.type === 'mysql';
    this.byId = rowLookup(db, 'uid');
    this.byPhoneHash = rowLookup(db, 'phoneHash');
    this.byPhoneHashLocked = rowLookup(db, 'phoneHash', this.mysql);
    this.newRowColumns = db
      .getMetadata(User)
      .columns.filter((c) => !c.isGenerated)
      .map((c) => c.databaseName);
  }

  findById(uid: number): Promise<User | null> {
    return this.byId(uid);
  }

  findByIds(uids: number[]): Promise<User[]> {
    return uids.length ? this.users.findBy({ uid: In(uids) }) : Promise.resolve([]);
  }

  findByPhoneHash(phoneHash: string): Promise<User | null> {
    return this.byPhoneHash(phoneHash);
  }

  async registerDevice(reg: DeviceRegistration, move?: AccountMove): Promise<DeviceRegistered> {
    // Insert first, unless the caller has just seen the number registered: a new phone is one
    // round trip; the unique phone_hash settles a race between two devices registering the same
    // new number (the loser moves the account, as a later call would).
    if (!reg.known) {
      try {
        const row = newUser(this.users, reg);
        await insertRows(this.db.manager, User, this.newRowColumns, [row]);
        return { user: row, created: true, endedImages: [] };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
    }
    return inTransaction(this.db, async (tx) => {
      const users = tx.getRepository(User);
      const current = await this.byPhoneHashLocked(reg.phoneHash, tx);
      if (!current) {
        // Deleted since the insert failed (or the caller looked): the number is new again.
        const row = newUser(users, reg);
        await insertRows(tx, User, this.newRowColumns, [row]);
        return { user: row, created: true, endedImages: [] };
      }
      move?.check(current);
      const change = {
        cid: reg.cid,
        ukeyHash: reg.ukeyHash,
        nickname: reg.nickname,
        publicKey: reg.publicKey ?? null,
        updatedAt: reg.now,
        lastSeenAt: reg.now,
      };
      await users.update({ uid: current.uid }, change);
      const endedImages = await endPendingMessages(tx, current.uid, 'account_moved', reg.now, move?.receipts);
      if (move) await insertPushJobs(tx, move.notices(current), reg.now);
      return { user: Object.assign(new User(), current, change), created: false, endedImages };
    });
  }

  async updatePublicKey(uid: number, publicKey: string, now: Date): Promise<User | null> {
    await this.users.update({ uid }, { publicKey, updatedAt: now });
    return this.users.findOneBy({ uid });
  }

  async updateCid(uid: number, cid: string, now: Date): Promise<User | null> {
    await this.users.update({ uid }, { cid, updatedAt: now });
    return this.users.findOneBy({ uid });
  }

  async updateRegistrationLock(uid: number, lock: string | null, now: Date): Promise<User | null> {
    await this.users.update({ uid }, { registrationLock: lock, updatedAt: now });
    return this.users.findOneBy({ uid });
  }

  async touchSeen(uid: number, now: Date, staleBefore: Date): Promise<void> {
    // Conditional, so that concurrent requests of one user write it once.
    await this.users.update(
      [
        { uid, lastSeenAt: IsNull() },
        { uid, lastSeenAt: LessThan(staleBefore) },
      ],
      { lastSeenAt: now },
    );
  }
}

/** On `manager` when given (a transaction's), else on the data source. */
type RowLookup<T> = (value: T, manager?: EntityManager) => Promise<User | null>;

/**
 * The user whose unique `property` equals a value: the statement is written once, and the row is
 * read into a User with the driver's own conversions, as findOneBy would. Every request's
 * authentication is such a look-up, and findOneBy built the same SQL again each time (most of the
 * CPU an authenticated request spent in TypeORM).
 */
function rowLookup<T>(db: DataSource, property: 'uid' | 'phoneHash', forUpdate = false): RowLookup<T> {
  const meta = db.getMetadata(User);
  const { driver } = db;
  const columns = meta.columns;
  const key = meta.findColumnWithPropertyName(property)!;
  const list = columns.map((c) => `${driver.escape(c.databaseName)} AS ${driver.escape(c.propertyName)}`).join(', ');
  const sql = `SELECT ${list} FROM ${driver.escape(meta.tableName)} WHERE ${driver.escape(key.databaseName)} = ? LIMIT 1${forUpdate ? ' FOR UPDATE' : ''}`;
  return async (value, manager = db.manager) => {
    const rows = (await manager.query(sql, [value])) as Record<string, unknown>[];
    if (!rows.length) return null;
    const user = new User();
    const fields = user as unknown as Record<string, unknown>;
    for (const c of columns) fields[c.propertyName] = driver.prepareHydratedValue(rows[0][c.propertyName], c);
    return user;
  };
}

function newUser(users: Repository<User>, reg: DeviceRegistration): User {
  return users.create({
    cid: reg.cid,
    ukeyHash: reg.ukeyHash,
    regionNum: reg.regionNum,
    phoneNum: reg.phoneNum,
    phoneHash: reg.phoneHash,
    nickname: reg.nickname,
    regTime: reg.now,
    updatedAt: reg.now,
    whoCanSendMe: WhoCanSend.EVERYONE,
    discoverable: true,
    publicKey: reg.publicKey ?? null,
    registrationLock: null,
    lastSeenAt: reg.now,
  });
}
