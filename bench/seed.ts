import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';

/** How many bench users send and receive the bulk-inserted messages. */
const SENDERS = 1000;
/** The viewer's pending images: the same few whatever the table holds. */
export const VIEWER_PENDING = 20;
const CHUNK = 100_000;

/**
 * Fills the message table straight through SQL (MariaDB's sequence engine), not through the API,
 * until it holds `total` rows. The viewer always has the same VIEWER_PENDING live images; one
 * message in a hundred is an old, confirmed one of the viewer's; the rest go between other users,
 * a quarter of them ended. What grows is everyone else's history, which `images` must not feel.
 */
export async function seedMessages(
  databaseUrl: string,
  viewerUid: number,
  total: number,
  settleMs: number,
): Promise<{ rows: number; ms: number }> {
  const started = Date.now();
  const conn = await mysql.createConnection({ uri: databaseUrl, multipleStatements: false });
  try {
    await conn.query('SET SESSION foreign_key_checks = 0, unique_checks = 0');
    const before = (await dirtyPages(conn)).dirty;
    const [[u]] = (await conn.query("SELECT MIN(id) AS first, COUNT(*) AS n FROM `user` WHERE cid LIKE 'seed-%'")) as unknown as [
      { first: number | null; n: number }[],
    ];
    let firstUser = u.first ?? 0;
    if (!u.n) {
      const [[{ next }]] = (await conn.query('SELECT COALESCE(MAX(id), 0) + 1 AS next FROM `user`')) as unknown as [{ next: number }[]];
      firstUser = Number(next);
      await conn.query(
        `INSERT INTO \`user\` (id, cid, ukey_hash, region_num, phone_num, phone_hash, nickname, reg_time, updated_at)
         SELECT ? + seq - 1, CONCAT('seed-', seq), REPEAT('0', 64), '86', CONCAT('137', LPAD(seq, 8, '0')),
                SHA2(CONCAT('seed-user-', seq), 256), CONCAT('sender ', seq), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3)
         FROM seq_1_to_${SENDERS}`,
        [firstUser],
      );
      await insertChunk(conn, 1, VIEWER_PENDING, firstUser, viewerUid, true);
    }
    const [[{ n }]] = (await conn.query('SELECT COUNT(*) AS n FROM message')) as unknown as [{ n: number }[]];
    // A small seed dirties too few pages to matter; waiting for it would only wait for others' work.
    if (total - Number(n) < CHUNK) settleMs = 0;
    for (let from = Number(n) + 1; from <= total; from += CHUNK) {
      await insertChunk(conn, from, Math.min(total, from + CHUNK - 1), firstUser, viewerUid, false);
    }
    await conn.query('ANALYZE TABLE message, image, `user`');
    await settle(conn, before, settleMs);
    const [[{ cnt }]] = (await conn.query('SELECT COUNT(*) AS cnt FROM message')) as unknown as [{ cnt: number }[]];
    return { rows: Number(cnt), ms: Date.now() - started };
  } finally {
    await conn.end();
  }
}

/** Rows `from`..`to` of the seed: one image and one message each, with explicit ids. */
async function insertChunk(conn: mysql.Connection, from: number, to: number, firstUser: number, viewerUid: number, forViewer: boolean) {
  const [[{ img }]] = (await conn.query('SELECT COALESCE(MAX(id), 0) AS img FROM image')) as unknown as [{ img: number }[]];
  const base = Number(img) - from + 1;
  const tag = `seed-${from}-${Date.now()}`;
  // Names and keys lead with the row's number: the unique indexes then grow at their end, which
  // keeps a 10^6-row seed in seconds; the query measured reads neither index.
  await conn.query('START TRANSACTION');
  await conn.query(
    `INSERT INTO image (id, object_name, filetype, size, sha256, expires_at, created_at)
     SELECT ? + seq, CONCAT(LPAD(LOWER(HEX(? + seq)), 12, '0'), LEFT(SHA2(CONCAT(?, '-', seq), 256), 52)), 'image/jpeg', 1048576, REPEAT('0', 64),
            UTC_TIMESTAMP(3) + INTERVAL 7 DAY, UTC_TIMESTAMP(3)
     FROM seq_${from}_to_${to}`,
    [base, base, tag],
  );
  const receiver = forViewer ? '?' : `IF(seq % 100 = 0, ?, ? + (seq * 7 + 3) % ${SENDERS})`;
  const exist = forViewer ? '1' : 'IF(seq % 100 = 0 OR seq % 4 = 0, 0, 1)';
  const params = forViewer ? [base, tag, firstUser, viewerUid, base] : [base, tag, firstUser, viewerUid, firstUser, base];
  await conn.query(
    `INSERT INTO message (message_key, sender_uid, receiver_uid, image_id, send_time, exist)
     SELECT CONCAT(LPAD(LOWER(HEX(? + seq)), 12, '0'), LEFT(SHA2(CONCAT(?, '-key-', seq), 256), 52)), ? + seq % ${SENDERS}, ${receiver}, ? + seq,
            UTC_TIMESTAMP(3) - INTERVAL (${to} - seq) SECOND, ${exist}
     FROM seq_${from}_to_${to}`,
    params,
  );
  await conn.query('COMMIT');
}

/**
 * A bulk insert leaves InnoDB flushing dirty pages for a minute or more (io_capacity 200 here),
 * which doubles query latencies measured meanwhile: wait until the pages the seed dirtied are
 * written (back to the level before it, which other work on a shared server keeps above zero).
 */
async function settle(conn: mysql.Connection, before: number, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  for (;;) {
    const { dirty, total } = await dirtyPages(conn);
    if (dirty <= Math.max(before, total * 0.05) || Date.now() > until) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function dirtyPages(conn: mysql.Connection): Promise<{ dirty: number; total: number }> {
  const [rows] = (await conn.query(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total')",
  )) as unknown as [{ Variable_name: string; Value: string }[]];
  const v = Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
  return { dirty: v.Innodb_buffer_pool_pages_dirty, total: v.Innodb_buffer_pool_pages_total };
}

/** The phone hash of the n-th seeded user (+86 138 nnnnnnnn), as a client computes it for a contact. */
export function seededPhoneHash(n: number): string {
  return createHash('sha256')
    .update(`+86138${String(n).padStart(8, '0')}`)
    .digest('hex');
}

/** How large discovery's covering index is, from InnoDB's persistent statistics (fresh after ANALYZE). */
export interface IndexSize {
  users: number;
  bytes: number;
  leafBytes: number;
  bytesPerUser: number;
  /** Every index of the user table (PRIMARY is the table itself), bytes allocated: what else a pool holds for it. */
  userTableIndexes: Record<string, number>;
}

/**
 * Discovery's population, straight through SQL (MariaDB's sequence engine), not through the API:
 * users 1..`count` with the numbers +86 138 nnnnnnnn (see `seededPhoneHash`), one in ten not
 * discoverable, and every 50th blocking the next, so that discovery's NOT EXISTS has rows to see.
 */
export async function seedUsers(databaseUrl: string, count: number, settleMs: number): Promise<{ ms: number; index: IndexSize }> {
  const started = Date.now();
  const conn = await mysql.createConnection({ uri: databaseUrl });
  try {
    const before = (await dirtyPages(conn)).dirty;
    // The numbers are distinct by construction; checking each against the unique index row by
    // row is what makes a bulk insert slow.
    await conn.query('SET SESSION unique_checks = 0');
    for (let from = 1; from <= count; from += CHUNK) {
      const to = Math.min(count, from + CHUNK - 1);
      await conn.query(
        `INSERT INTO \`user\` (cid, ukey_hash, region_num, phone_num, phone_hash, nickname, reg_time, updated_at, who_can_send_me, discoverable)
         SELECT CONCAT('disc-', seq), SHA2(seq, 256), '86', CONCAT('138', LPAD(seq, 8, '0')),
                SHA2(CONCAT('+86138', LPAD(seq, 8, '0')), 256), CONCAT('u', seq), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), 'EVERYONE', seq % 10 <> 0
         FROM seq_${from}_to_${to}`,
      );
    }
    await conn.query(
      `INSERT IGNORE INTO user_block (blocker_uid, blocked_uid, created_at)
       SELECT u.id, v.id, UTC_TIMESTAMP(3) FROM \`user\` u JOIN \`user\` v ON v.id = u.id + 1
       WHERE u.cid LIKE 'disc-%' AND u.id % 50 = 0`,
    );
    await conn.query('ANALYZE TABLE `user`, user_block');
    await settle(conn, before, settleMs);
    return { ms: Date.now() - started, index: await discoveryIndexSize(conn) };
  } finally {
    await conn.end();
  }
}

async function discoveryIndexSize(conn: mysql.Connection): Promise<IndexSize> {
  const [rows] = (await conn.query(
    `SELECT stat_name AS name, stat_value AS value FROM mysql.innodb_index_stats
     WHERE database_name = DATABASE() AND table_name = 'user' AND index_name = 'idx_user_discovery' AND stat_name IN ('size', 'n_leaf_pages')`,
  )) as unknown as [{ name: string; value: number | string }[]];
  const pages = Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]));
  const [[{ page, users }]] = (await conn.query(
    'SELECT @@innodb_page_size AS page, (SELECT COUNT(*) FROM `user`) AS users',
  )) as unknown as [{ page: number | string; users: number | string }[]];
  const [all] = (await conn.query(
    `SELECT index_name AS name, stat_value AS value FROM mysql.innodb_index_stats
     WHERE database_name = DATABASE() AND table_name = 'user' AND stat_name = 'size'`,
  )) as unknown as [{ name: string; value: number | string }[]];
  const bytes = (pages.size ?? NaN) * Number(page);
  return {
    users: Number(users),
    bytes,
    leafBytes: (pages.n_leaf_pages ?? NaN) * Number(page),
    bytesPerUser: bytes / Number(users),
    userTableIndexes: Object.fromEntries(all.map((r) => [r.name, Number(r.value) * Number(page)])),
  };
}
