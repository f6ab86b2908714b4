import { createPool, Pool, PoolConnection } from 'mysql2';
import type { DataSource } from 'typeorm';
import { withTxRetry } from '../database';
import type { Statement } from './bulk-insert.typeorm';

/** What MySQL answers a write: the rows it changed and the first id it generated. */
export interface WriteResult {
  affectedRows: number;
  insertId: number;
}

/**
 * Runs a short transaction on MySQL as one network round trip: `START TRANSACTION`, the
 * statements and `COMMIT` go as one multi-statement query, and the answer comes once the commit
 * is durable. The hot paths (a send's image, message and push; a download's completion) use it,
 * where TypeORM would wait for each statement in turn.
 *
 * Multi-statement queries are allowed only on this pool's own connections, never on TypeORM's:
 * every statement here is written in code with `?` placeholders, and values are escaped by the
 * driver. A statement that fails stops the batch with the transaction still open, so the
 * connection rolls back before it is used again; a deadlock runs the whole batch again.
 */
export class MysqlBatch {
  private pool: Pool | null = null;

  constructor(
    private readonly url: string,
    private readonly connections = 10,
  ) {}

  /** A batch for `db` when it is MySQL; null on SQLite, where a statement is a call, not a round trip. */
  static of(db: DataSource): MysqlBatch | null {
    const url = (db.options as { url?: string }).url;
    return db.options.type === 'mysql' && url ? new MysqlBatch(url) : null;
  }

  /** Each statement's result, in order (START TRANSACTION's and COMMIT's left out). */
  transaction(statements: readonly Statement[]): Promise<WriteResult[]> {
    const sql = ['START TRANSACTION', ...statements.map((s) => s.sql), 'COMMIT'].join(';\n');
    const params = statements.flatMap((s) => s.params);
    return withTxRetry(async () =>
      (await this.run(sql, params)).slice(1, -1).map((r) => {
        const w = r as WriteResult;
        return { affectedRows: Number(w.affectedRows), insertId: Number(w.insertId) };
      }),
    );
  }

  /**
   * Statements that need no transaction together (each commits on its own, in order) as one
   * round trip; answers each one's result as mysql2 gives it: a write's header, a read's rows.
   * A deadlock stops the batch where it struck and runs it all again, so only the first
   * statement may write.
   */
  statements(statements: readonly Statement[]): Promise<unknown[]> {
    const sql = statements.map((s) => s.sql).join(';\n');
    const params = statements.flatMap((s) => s.params);
    return withTxRetry(() => this.run(sql, params));
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await new Promise<void>((resolve) => pool.end(() => resolve()));
  }

  private async run(sql: string, params: unknown[]): Promise<unknown[]> {
    const conn = await this.connection();
    try {
      const results = await new Promise<unknown[]>((resolve, reject) =>
        conn.query({ sql, values: params }, (err, res) => (err ? reject(err) : resolve(res as unknown as unknown[]))),
      );
      conn.release();
      return results;
    } catch (e) {
      await this.rollback(conn, e);
      throw e;
    }
  }

  /** After a failed batch the transaction may still be open (a deadlock has rolled it back already; ROLLBACK is harmless then). */
  private async rollback(conn: PoolConnection, cause: unknown): Promise<void> {
    const fatal = (cause as { fatal?: boolean })?.fatal === true;
    if (fatal) return conn.destroy();
    await new Promise<void>((resolve) =>
      conn.query('ROLLBACK', (err) => {
        if (err) conn.destroy();
        else conn.release();
        resolve();
      }),
    );
  }

  private connection(): Promise<PoolConnection> {
    this.pool ??= createPool({
      uri: this.url,
      // The same conversions as TypeORM's connections: dates in UTC, full Unicode.
      timezone: 'Z',
      charset: 'utf8mb4_unicode_ci',
      multipleStatements: true,
      connectionLimit: this.connections,
      enableKeepAlive: true,
    });
    const pool = this.pool;
    return new Promise((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c))));
  }
}
