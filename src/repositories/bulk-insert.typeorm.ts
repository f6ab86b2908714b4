import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/** One SQL statement with `?` placeholders and its values. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * SQL to write in place of a column's `?`, by row: with a `?` in it, the column's value goes
 * there; without one, the value is not sent (the expression is the value).
 */
export type ColumnExpressions<T> = Partial<Record<string, (row: T, index: number) => string>>;

/**
 * Rows per statement: SQLite allows 32,766 parameters in one (MySQL's text protocol has no such
 * limit); the widest row written this way (a push job) has 15 columns.
 */
export const ROWS_PER_STATEMENT = 1000;

/**
 * Multi-row INSERTs of plain placeholders for `rows`, ROWS_PER_STATEMENT to a statement. For the
 * ~700 parameters of a 50-member group send's pushes, TypeORM's insert builder spent
 * milliseconds of CPU on its own bookkeeping; values still go through the driver's conversion
 * (dates, booleans). Writes only `columns` (database names), which must cover every column
 * without a default.
 */
export function insertStatements<T extends ObjectLiteral>(
  db: DataSource,
  target: EntityTarget<T>,
  columns: readonly string[],
  rows: T[],
  expressions: ColumnExpressions<T> = {},
): Statement[] {
  const driver = db.driver;
  const metadata = db.getMetadata(target);
  const meta = columns.map((name) => {
    const c = metadata.findColumnWithDatabaseName(name);
    if (!c) throw new Error(`${metadata.tableName} has no column ${name}`);
    return { name, column: c, expression: expressions[name] };
  });
  const statements: Statement[] = [];
  for (let from = 0; from < rows.length; from += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(from, from + ROWS_PER_STATEMENT);
    const params: unknown[] = [];
    const values = chunk.map((row, i) => {
      const cells = meta.map(({ column, expression }) => {
        const sql = expression ? expression(row, from + i) : '?';
        if (sql.includes('?')) params.push(driver.preparePersistentValue(column.getEntityValue(row), column));
        return sql;
      });
      return `(${cells.join(', ')})`;
    });
    statements.push({ sql: `INSERT INTO ${metadata.tableName} (${columns.join(', ')}) VALUES ${values.join(', ')}`, params });
  }
  return statements;
}

/**
 * Writes entities with insertStatements in the caller's transaction and sets their generated
 * ids. One simple INSERT gets consecutive ids (InnoDB allocates them at once; SQLite has one
 * writer), the same assumption TypeORM's builder makes. On a manager without a transaction,
 * each statement commits on its own.
 */
export async function insertRows<T extends ObjectLiteral>(
  tx: EntityManager,
  target: EntityTarget<T>,
  columns: readonly string[],
  rows: T[],
): Promise<void> {
  if (rows.length === 0) return;
  const id = tx.connection.getMetadata(target).primaryColumns[0];
  const statements = insertStatements(tx.connection, target, columns, rows);
  // Outside a transaction, a runner of its own (on MySQL, a pool connection for the statements).
  const runner = tx.queryRunner ?? tx.connection.createQueryRunner();
  try {
    for (const [n, { sql, params }] of statements.entries()) {
      const chunk = rows.slice(n * ROWS_PER_STATEMENT, (n + 1) * ROWS_PER_STATEMENT);
      const result = await runner.query(sql, params, true);
      // MySQL answers the first id of the statement; better-sqlite3 the last one.
      const raw = result.raw as { insertId?: number } | number | bigint;
      const firstId = typeof raw === 'object' && raw !== null ? Number(raw.insertId) : Number(raw) - chunk.length + 1;
      chunk.forEach((row, i) => id.setEntityValue(row, firstId + i));
    }
  } finally {
    if (runner !== tx.queryRunner) await runner.release();
  }
}
