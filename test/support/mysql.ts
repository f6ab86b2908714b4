import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

import { MYSQL_BASE_URL } from './services';

/** The MySQL-family server the tests use: MariaDB on 127.0.0.1:3306, anything via TEST_MYSQL_URL. */
export { MYSQL_BASE_URL };

/** Creates an empty database of its own for a test run; `drop` removes it. */
export async function createTestDatabase(prefix = 'glimpse_test'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const conn = await mysql.createConnection(MYSQL_BASE_URL);
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
  return {
    name,
    url: `${MYSQL_BASE_URL.replace(/\/+$/, '')}/${name}`,
    drop: async () => {
      const c = await mysql.createConnection(MYSQL_BASE_URL);
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}
