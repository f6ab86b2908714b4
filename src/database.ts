import fs from 'node:fs';
import path from 'node:path';
import { DataSource, DataSourceOptions, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import type { DatabaseConfig } from './config';
import { entities } from './entities';
import { migrations } from './migrations';

/** TypeORM options for either dialect; the same entities and migrations serve both. */
export function dataSourceOptions(db: DatabaseConfig): DataSourceOptions {
  const common = { entities, migrations, synchronize: false, logging: false } as const;
  if (db.kind === 'mysql') {
    return {
      ...common,
      type: 'mysql',
      url: db.url,
      timezone: 'Z',
      charset: 'utf8mb4_unicode_ci',
      poolSize: 20,
      // trace: mysql2 captured a stack for every query, in case it failed; TypeORM's QueryFailedError
      // carries the caller's (async) stack anyway.
      extra: { connectionLimit: 20, enableKeepAlive: true, trace: false },
    };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: db.file,
    // WAL lets downloads read while a send writes; the busy timeout rides out short write locks.
    // secure_delete: a deleted row or an overwritten value (a destroyed image key) is zeroed in
    // the file, not left in a free page for anyone who copies it.
    prepareDatabase: (d: { pragma(s: string): unknown }) => {
      d.pragma('journal_mode = WAL');
      d.pragma('secure_delete = ON');
      d.pragma('busy_timeout = 5000');
      d.pragma('foreign_keys = ON');
    },
  };
}

export function createDataSource(db: DatabaseConfig): DataSource {
  if (db.kind === 'sqlite' && db.file !== ':memory:') fs.mkdirSync(path.dirname(db.file), { recursive: true });
  return new DataSource(dataSourceOptions(db));
}

/**
 * SQLite's write-ahead log keeps whole pages as they were before a change, destroyed keys
 * included, until later writes overwrite them: a checkpoint that truncates the log moves every
 * page into the database file (where secure_delete has zeroed what was deleted) and empties it.
 * Nothing to do on MySQL.
 */
export async function truncateWal(db: DataSource): Promise<void> {
  if (db.options.type === 'better-sqlite3') await db.query('PRAGMA wal_checkpoint(TRUNCATE)');
}

/** True when a write failed on a unique key, in either dialect. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; driverError?: { code?: string } };
  const code = err?.driverError?.code ?? err?.code;
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** True when a transaction died of a deadlock or lock wait and can simply be run again. */
export function isRetryableTxError(e: unknown): boolean {
  const err = e as { code?: string; driverError?: { code?: string } };
  const code = err?.driverError?.code ?? err?.code;
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY';
}

/** Runs `work` again when it dies of a deadlock (seen under concurrent sends on MariaDB). */
export async function withTxRetry<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= attempts || !isRetryableTxError(e)) throw e;
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 10));
    }
  }
}

const sqliteQueues = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Runs `work` in a transaction, again when it dies of a deadlock. On SQLite, TypeORM shares one
 * connection among all callers, so two transactions open at once would interleave on it: there
 * they run one after another.
 */
export function inTransaction<T>(db: DataSource, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  const run = () => withTxRetry(() => db.transaction(work));
  if (db.options.type !== 'better-sqlite3') return run();
  const previous = sqliteQueues.get(db) ?? Promise.resolve();
  const result = previous.then(run, run);
  sqliteQueues.set(
    db,
    result.catch(() => undefined),
  );
  return result;
}

/**
 * Deletes at most `limit` rows of `entity` that match `where` (SQL over the table's columns,
 * `:named` parameters) in one short statement, and answers how many went. Callers loop until a
 * batch comes back short, so a large backlog never holds locks for long. Both forms read only
 * the matching rows through the index on `where`: MySQL's `DELETE … LIMIT` (MariaDB 10.x runs
 * `id IN (subquery)` as a scan of the whole table), and on SQLite, which has no `DELETE … LIMIT`,
 * an id subquery. On MySQL the statement runs READ COMMITTED, so it takes no gap locks that
 * would hold up the inserts of live traffic.
 */
export async function deleteBatch(
  db: DataSource,
  entity: EntityTarget<ObjectLiteral>,
  where: string,
  params: Record<string, unknown>,
  limit: number,
): Promise<number> {
  const n = Math.max(1, Math.floor(limit));
  if (db.options.type !== 'mysql') {
    const table = db.driver.escape(db.getMetadata(entity).tableName);
    const r = await withTxRetry(() =>
      db.createQueryBuilder().delete().from(entity).where(`id IN (SELECT id FROM ${table} WHERE ${where} LIMIT ${n})`, params).execute(),
    );
    return r.affected ?? 0;
  }
  const [sql, values] = db.createQueryBuilder().delete().from(entity).where(where, params).getQueryAndParameters();
  return withTxRetry(() =>
    db.transaction('READ COMMITTED', async (tx) => {
      const r = await tx.queryRunner!.query(`${sql} LIMIT ${n}`, values, true);
      return r.affected ?? 0;
    }),
  );
}
