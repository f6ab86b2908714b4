import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { MysqlBatch } from '../../src/repositories/mysql-batch';
import { createTestDatabase } from '../support/mysql';
import { needsMysql } from '../support/services';

/** The one-round-trip transactions of the hot paths: all or nothing, and the connection reusable after a failure. */
describe('MysqlBatch [mysql]', function () {
  this.timeout(30_000);
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let batch: MysqlBatch;
  let check: mysql.Connection;

  before(async function () {
    needsMysql(this);
    database = await createTestDatabase('glimpse_batch');
    check = await mysql.createConnection(database.url);
    await check.query('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(16) NOT NULL UNIQUE) ENGINE=InnoDB');
    // One connection: a failed batch's transaction must be over before the next batch uses it.
    batch = new MysqlBatch(database.url, 1);
  });

  after(async () => {
    await batch?.close();
    await check?.end();
    await database?.drop();
  });

  const names = async () => ((await check.query('SELECT name FROM t ORDER BY id'))[0] as { name: string }[]).map((r) => r.name);

  it('answers each statement its rows and first generated id, and commits them together', async () => {
    const results = await batch.transaction([
      { sql: 'INSERT INTO t (name) VALUES (?), (?)', params: ['a', 'b'] },
      { sql: 'SET @first = LAST_INSERT_ID()', params: [] },
      { sql: 'INSERT INTO t (name) VALUES (CONCAT(?, @first))', params: ['c'] },
    ]);
    expect(results.map((r) => r.affectedRows)).to.deep.equal([2, 0, 1]);
    expect(results[2].insertId).to.equal(results[0].insertId + 2);
    expect(await names()).to.deep.equal(['a', 'b', `c${results[0].insertId}`]);
  });

  it('keeps nothing of a batch whose later statement fails, and the connection serves the next batch', async () => {
    const before = await names();
    const failed = await batch
      .transaction([
        { sql: 'INSERT INTO t (name) VALUES (?)', params: ['d'] },
        { sql: 'INSERT INTO t (name) VALUES (?)', params: ['a'] },
      ])
      .then(
        () => null,
        (e: { code?: string }) => e,
      );
    expect(failed?.code).to.equal('ER_DUP_ENTRY');
    expect(await names()).to.deep.equal(before);
    await batch.transaction([{ sql: 'INSERT INTO t (name) VALUES (?)', params: ['e'] }]);
    expect(await names()).to.deep.equal([...before, 'e']);
  });
});
