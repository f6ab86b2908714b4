import { expect } from 'chai';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataSource, DataSourceOptions, Table } from 'typeorm';
import type { DatabaseConfig } from '../../src/config';
import { createDataSource, dataSourceOptions } from '../../src/database';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { ServerSecret } from '../../src/entities/server-secret.entity';
import { migrations } from '../../src/migrations';
import { masterKeyId } from '../../src/services/cipher/key-wrapper';
import { createTestDatabase } from '../support/mysql';
import { needsMysql } from '../support/services';

/** What a schema is made of, by name, in a form both dialects can be compared in. */
interface SchemaShape {
  [table: string]: {
    columns: Record<string, { type: string; length: string; nullable: boolean; primary: boolean; generated: boolean }>;
    indexes: Record<string, { columns: string[]; unique: boolean }>;
    foreignKeys: Record<string, { columns: string[]; references: string; onDelete?: string }>;
  };
}

// Each dialect's name for the same declared type (`integer` ids read back as `int` on MySQL,
// `boolean` as `tinyint`).
const TYPE_FAMILY: Record<string, string> = { integer: 'int', int: 'int', tinyint: 'boolean', boolean: 'boolean' };

async function tableNames(ds: DataSource): Promise<string[]> {
  const rows: { name: string }[] =
    ds.options.type === 'mysql'
      ? await ds.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()')
      : await ds.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  return rows.map((r) => r.name).sort();
}

async function shapeOf(ds: DataSource): Promise<SchemaShape> {
  const q = ds.createQueryRunner();
  try {
    const tables: Table[] = await q.getTables(await tableNames(ds));
    const shape: SchemaShape = {};
    for (const t of tables) {
      const name = t.name.split('.').pop()!;
      const entry: SchemaShape[string] = { columns: {}, indexes: {}, foreignKeys: {} };
      for (const c of t.columns) {
        entry.columns[c.name] = {
          type: TYPE_FAMILY[c.type] ?? c.type,
          // TypeORM reports MySQL's default varchar length (255) as no length at all.
          length: c.length === '' && c.type === 'varchar' ? '255' : c.length,
          nullable: c.isNullable,
          primary: c.isPrimary,
          generated: c.isGenerated,
        };
      }
      // MySQL keeps a unique constraint as a unique index; SQLite as a UNIQUE constraint.
      for (const i of t.indices) entry.indexes[i.name!] = { columns: i.columnNames, unique: Boolean(i.isUnique) };
      for (const u of t.uniques) entry.indexes[u.name!] = { columns: u.columnNames, unique: true };
      for (const f of t.foreignKeys) {
        entry.foreignKeys[f.name!] = {
          // TypeORM repeats a MySQL key's columns once per database that has a key of that name.
          columns: [...new Set(f.columnNames)],
          references: `${f.referencedTableName.split('.').pop()}(${[...new Set(f.referencedColumnNames)].join(',')})`,
          onDelete: f.onDelete,
        };
      }
      shape[name] = entry;
    }
    return shape;
  } finally {
    await q.release();
  }
}

describe('migrations on MySQL and SQLite', function () {
  this.timeout(60_000);
  let mysqlDb: Awaited<ReturnType<typeof createTestDatabase>>;
  const sources: DataSource[] = [];
  const open = async (db: DatabaseConfig) => {
    const ds = createDataSource(db);
    await ds.initialize();
    sources.push(ds);
    return ds;
  };
  let mysql: DataSource;
  let sqlite: DataSource;

  before(async function () {
    needsMysql(this);
    mysqlDb = await createTestDatabase('glimpse_migr');
    mysql = await open({ kind: 'mysql', url: mysqlDb.url, database: mysqlDb.name });
    sqlite = await open({ kind: 'sqlite', file: ':memory:' });
    await mysql.runMigrations({ transaction: 'each' });
    await sqlite.runMigrations({ transaction: 'each' });
  });
  after(async () => {
    for (const ds of sources) await ds.destroy().catch(() => undefined);
    await mysqlDb?.drop();
  });

  it('bring both to the same tables, columns, indexes and foreign keys, by name', async () => {
    const [m, s] = [await shapeOf(mysql), await shapeOf(sqlite)];
    expect(Object.keys(m).sort()).to.deep.equal(Object.keys(s).sort());
    for (const table of Object.keys(m)) {
      expect(m[table].columns, `columns of ${table}`).to.deep.equal(s[table].columns);
      const sortCols = (x: SchemaShape[string]['indexes']) => Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)));
      expect(sortCols(m[table].indexes), `indexes of ${table}`).to.deep.equal(sortCols(s[table].indexes));
      expect(m[table].foreignKeys, `foreign keys of ${table}`).to.deep.equal(s[table].foreignKeys);
    }
  });

  it('can all be undone on both, leaving only the migrations table', async () => {
    for (const ds of [mysql, sqlite]) {
      for (let i = 0; i < migrations.length; i++) await ds.undoLastMigration({ transaction: 'each' });
      expect(await tableNames(ds)).to.deep.equal(['migrations']);
    }
  });
});

describe('the deletion-audit migration on an earlier version’s rows', function () {
  this.timeout(60_000);
  const master = randomBytes(32);
  // What earlier versions kept in server_secret: the whole check value of their master key.
  const check = createHmac('sha256', master).update('glimpse-master-key-check-v1').digest('base64url');
  const at = (iso: string) => iso.replace('T', ' ').replace('Z', '');
  const sources: DataSource[] = [];

  for (const kind of ['mysql', 'sqlite'] as const) {
    it(`${kind}: live keys get the id of the master key that wrapped them, ended images lose their hash, born-ended messages end when their image expires`, async function () {
      if (kind === 'mysql') needsMysql(this);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-upgrade-'));
      const mysqlDb = kind === 'mysql' ? await createTestDatabase('glimpse_upgr') : null;
      const config: DatabaseConfig = mysqlDb
        ? { kind: 'mysql', url: mysqlDb.url, database: mysqlDb.name }
        : { kind: 'sqlite', file: path.join(dir, 'db.sqlite') };
      const earlier = new DataSource({ ...dataSourceOptions(config), migrations: migrations.slice(0, -1) } as DataSourceOptions);
      try {
        await earlier.initialize();
        await earlier.runMigrations({ transaction: 'each' });
        const q = (sql: string, params: unknown[] = []) => earlier.query(sql, params);
        const t0 = at('2026-01-01T00:00:00.000Z');
        for (const [id, hash] of [
          [1, 'a'],
          [2, 'b'],
        ] as const) {
          await q(
            'INSERT INTO user (id, ukey_hash, region_num, phone_num, phone_hash, nickname, reg_time, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [id, 'x', '86', `1380000000${id}`, hash.repeat(64), 'n', t0, t0],
          );
        }
        await q(
          'INSERT INTO image (id, object_name, filetype, size, sha256, expires_at, created_at, cipher, wrapped_key) VALUES (1, ?, ?, 3, ?, ?, ?, ?, ?)',
          ['live', 'image/jpeg', 'c'.repeat(64), at('2026-01-08T00:00:00.000Z'), t0, 'aes256gcm-64k', 'wrapped-live'],
        );
        await q(
          'INSERT INTO image (id, object_name, filetype, size, sha256, expires_at, created_at, ended_at) VALUES (2, ?, ?, 3, ?, ?, ?, ?)',
          ['gone', 'image/jpeg', 'd'.repeat(64), at('2026-01-08T00:00:00.000Z'), t0, t0],
        );
        await q(
          'INSERT INTO message (message_key, sender_uid, receiver_uid, image_id, send_time, exist, end_reason, ended_at) VALUES (?, 1, 2, 1, ?, ?, ?, ?)',
          ['m-blocked', t0, 0, 'blocked', t0],
        );
        await q('INSERT INTO server_secret (name, value) VALUES (?, ?), (?, ?)', [
          'encryption-key-check',
          check,
          'download-url-hmac',
          'plain-secret',
        ]);
        await earlier.destroy();

        const now = createDataSource(config);
        sources.push(now);
        await now.initialize();
        await now.runMigrations({ transaction: 'each' });
        const images = await now.getRepository(Image).find({ order: { id: 'ASC' } });
        expect(images[0]).to.include({ keyId: masterKeyId(master), wrappedKey: 'wrapped-live', sha256: 'c'.repeat(64) });
        expect(images[1]).to.include({ keyId: null, wrappedKey: null, sha256: null });
        const blocked = await now.getRepository(Message).findOneByOrFail({ messageKey: 'm-blocked' });
        expect(blocked.endedAt!.toISOString()).to.equal('2026-01-08T00:00:00.000Z');
        const secrets = await now.getRepository(ServerSecret).find({ order: { name: 'ASC' } });
        expect(secrets.map((s) => [s.name, s.value, s.keyId])).to.deep.equal([
          ['download-url-hmac', 'plain-secret', null],
          ['encryption-key-check', check, null],
        ]);
      } finally {
        if (earlier.isInitialized) await earlier.destroy();
        for (const ds of sources.splice(0)) await ds.destroy().catch(() => undefined);
        await mysqlDb?.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
