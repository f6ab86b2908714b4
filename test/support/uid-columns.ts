import type { DataSource } from 'typeorm';
import { User } from '../../src/entities/user.entity';

/** Integer columns that hold something other than a uid; every other integer column must be classified below. */
const NOT_A_UID = new Set(['image.size', 'push_job.attempts', 'verification_code.attempts', 'download_grant.served_bytes']);

/**
 * Every column of every entity that holds a uid, read from TypeORM's metadata so that a new
 * table is covered without touching this test: the user's id, a relation to User, or a column
 * named *_uid / user_low / user_high. An integer column that is none of these and not known to
 * hold something else fails the test until it is classified here.
 */
export function uidColumns(db: DataSource): { table: string; column: string }[] {
  const found: { table: string; column: string }[] = [];
  for (const meta of db.entityMetadatas) {
    for (const col of meta.columns) {
      if (!['int', 'integer', 'bigint'].includes(String(col.type))) continue;
      const name = `${meta.tableName}.${col.databaseName}`;
      const target = col.relationMetadata?.inverseEntityMetadata.target ?? col.referencedColumn?.entityMetadata.target;
      const holdsUid = (meta.target === User && col.isPrimary) || target === User || /(^|_)uid$|^user_(low|high)$/.test(col.databaseName);
      if (holdsUid) found.push({ table: meta.tableName, column: col.databaseName });
      else if (!(NOT_A_UID.has(name) || (col.isPrimary && col.isGenerated) || target)) {
        throw new Error(`${name} is an integer column of unknown meaning: say in test/support/uid-columns.ts whether it holds a uid`);
      }
    }
  }
  return found;
}

/** Rows naming the uid, by table.column (only those with any). */
export async function rowsNaming(db: DataSource, uid: number, phoneHash: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const count = async (table: string, column: string, value: unknown) => {
    const [row] = await db.query(`SELECT COUNT(*) AS n FROM ${db.driver.escape(table)} WHERE ${db.driver.escape(column)} = ?`, [value]);
    if (Number(row.n) > 0) out[`${table}.${column}`] = Number(row.n);
  };
  for (const { table, column } of uidColumns(db)) await count(table, column, uid);
  for (const meta of db.entityMetadatas) {
    for (const col of meta.columns) if (col.databaseName === 'phone_hash') await count(meta.tableName, 'phone_hash', phoneHash);
  }
  return out;
}
