import mysql from 'mysql2/promise';

/**
 * InnoDB's buffer pool, raised for a measurement and always put back. The MariaDB the bench
 * uses is shared (test suites, other benches): a raised pool must never outlive the run, so every
 * raise registers its restore here, and run.ts's signal handler calls `restoreBufferPools()`
 * before it exits.
 */

export const GiB = 1024 * 1024 * 1024;

const pending = new Set<() => Promise<void>>();

/** Puts back every pool this process raised (idempotent; for the signal handler). */
export async function restoreBufferPools(): Promise<void> {
  await Promise.all([...pending].map((restore) => restore()));
}

export async function bufferPoolBytes(conn: mysql.Connection): Promise<number> {
  const [[row]] = (await conn.query('SELECT @@innodb_buffer_pool_size AS bytes')) as unknown as [{ bytes: number | string }[]];
  return Number(row.bytes);
}

/** Pages InnoDB has read from disk since the server started (server-wide). */
export async function diskReads(conn: mysql.Connection): Promise<number> {
  const [[row]] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'")) as unknown as [{ Value: string }[]];
  return Number(row.Value);
}

/**
 * Sets the pool's size and waits until InnoDB reports it. MariaDB 10.11 resizes online; recent
 * releases do it within the statement, older ones in the background (Innodb_buffer_pool_resize_status).
 */
async function resize(conn: mysql.Connection, bytes: number, timeoutMs = 120_000): Promise<void> {
  await conn.query('SET GLOBAL innodb_buffer_pool_size = ?', [bytes]);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [[status]] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")) as unknown as [{ Value: string }[]];
    const busy = !!status?.Value && !/^completed/i.test(status.Value);
    if ((await bufferPoolBytes(conn)) === bytes && !busy) return;
    if (Date.now() > until) throw new Error(`innodb_buffer_pool_size did not reach ${bytes} (status: ${status?.Value})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface PoolUse {
  /** The size found before the run. */
  foundBytes: number;
  /** The size measured at. */
  usedBytes: number;
  resized: boolean;
}

/**
 * Runs `work` with the buffer pool at `bytes` at least, raising it first when smaller, and puts the
 * size found back afterwards, whatever happens. The restore uses a connection of its own, so it
 * works even while `work` is still waiting on a query (a signal arrived).
 */
export async function withBufferPoolAtLeast<T>(
  databaseUrl: string,
  bytes: number,
  log: (s: string) => void,
  work: (pool: PoolUse) => Promise<T>,
): Promise<T> {
  const conn = await mysql.createConnection({ uri: databaseUrl });
  let found: number;
  try {
    found = await bufferPoolBytes(conn);
  } finally {
    await conn.end();
  }
  if (found >= bytes) return work({ foundBytes: found, usedBytes: found, resized: false });

  // The restore waits for the raise to settle, so that a signal arriving mid-raise cannot be overtaken by it.
  let raising: Promise<void> = Promise.resolve();
  let restoring: Promise<void> | undefined;
  const restore = () =>
    (restoring ??= (async () => {
      await raising.catch(() => undefined);
      // Shrinking evicts pages; under load it can fail once and succeed a moment later.
      for (let attempt = 1; ; attempt++) {
        try {
          const c = await mysql.createConnection({ uri: databaseUrl });
          try {
            await resize(c, found);
          } finally {
            await c.end();
          }
          log(`innodb_buffer_pool_size restored to ${found} bytes`);
          pending.delete(restore);
          return;
        } catch (e) {
          if (attempt >= 3) throw e;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })());
  pending.add(restore);
  try {
    log(`innodb_buffer_pool_size ${found} → ${bytes} bytes for this measurement (put back afterwards)`);
    raising = (async () => {
      const c = await mysql.createConnection({ uri: databaseUrl });
      try {
        await resize(c, bytes);
      } finally {
        await c.end();
      }
    })();
    await raising;
    return await work({ foundBytes: found, usedBytes: bytes, resized: true });
  } finally {
    await restore().catch((e) => {
      log(`COULD NOT RESTORE innodb_buffer_pool_size to ${found}: ${e?.message ?? e}; run SET GLOBAL innodb_buffer_pool_size = ${found}`);
      throw e;
    });
  }
}
