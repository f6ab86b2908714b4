import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * Rows per statement: SQLite allows 32,766 parameters in one (MySQL's text protocol has no such
 * limit); the widest row written this way (a push job) has 15 columns.
 */
const ROWS_PER_STATEMENT = 1000;

/**
 * Writes entities with multi-row INSERTs of plain placeholders and sets their generated ids.
 * For the ~700 parameters of a 50-member group send's pushes, TypeORM's insert builder spent
 * milliseconds of CPU on its own bookkeeping; values still go through the driver's conversion
 * (dates, booleans). One simple INSERT gets consecutive ids (InnoDB allocates them at once;
 * SQLite has one writer), the same assumption TypeORM's builder makes. Writes only `columns`
 * (database names), which must cover every column without a default. On a manager without a
 * transaction, each statement commits on its own.
 */
export async function insertRows<T extends ObjectLiteral>(
  tx: EntityManager,
  target: EntityTarget<T>,
  columns: readonly string[],
  rows: T[],
): Promise<void> {
  if (rows.length === 0) return;
  const driver = tx.connection.driver;
  const metadata = tx.connection.getMetadata(target);
  const meta = columns.map((name) => {
    const c = metadata.findColumnWithDatabaseName(name);
    if (!c) throw new Error(`${metadata.tableName} has no column ${name}`);
    return c;
  });
  const id = metadata.primaryColumns[0];
  const placeholders = `(${meta.map(() => '?').join(', ')})`;
  // Outside a transaction, a runner of its own (on MySQL, a pool connection for the statements).
  const runner = tx.queryRunner ?? tx.connection.createQueryRunner();
  try {
    for (let from = 0; from < rows.length; from += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(from, from + ROWS_PER_STATEMENT);
      const sql = `INSERT INTO ${metadata.tableName} (${columns.join(', ')}) VALUES ${chunk.map(() => placeholders).join(', ')}`;
      const parameters = chunk.flatMap((row) => meta.map((c) => driver.preparePersistentValue(c.getEntityValue(row), c)));
      const result = await runner.query(sql, parameters, true);
      // MySQL answers the first id of the statement; better-sqlite3 the last one.
      const raw = result.raw as { insertId?: number } | number | bigint;
      const firstId = typeof raw === 'object' && raw !== null ? Number(raw.insertId) : Number(raw) - chunk.length + 1;
      chunk.forEach((row, i) => id.setEntityValue(row, firstId + i));
    }
  } finally {
    if (runner !== tx.queryRunner) await runner.release();
  }
}
