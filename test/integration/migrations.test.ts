import { expect } from 'chai';
import type { DataSource, Table } from 'typeorm';
import type { DatabaseConfig } from '../../src/config';
import { createDataSource } from '../../src/database';
import { migrations } from '../../src/migrations';
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
