import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/**
 * Deletion that holds up to an auditor: an image's plaintext hash can be cleared with its key;
 * each wrapped key and server secret records which master key wrapped it (so the master key can
 * be rotated); a download grant counts the bytes it served; ended messages are found by when
 * they ended, for the retention prune.
 */
const sha256 = (isNullable: boolean) => new TableColumn({ name: 'sha256', type: 'varchar', length: '64', isNullable });

export class DeletionAudit1765100000000 implements MigrationInterface {
  name = 'DeletionAudit1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.changeColumn('image', 'sha256', sha256(true));
    await q.addColumn('image', new TableColumn({ name: 'key_id', type: 'varchar', length: '16', isNullable: true }));
    await q.createIndices('image', [
      new TableIndex({ name: 'idx_image_key_id', columnNames: ['key_id'] }),
      new TableIndex({ name: 'idx_image_ended', columnNames: ['ended_at'] }),
    ]);
    // Earlier versions wrapped every key with the one master key whose check value they kept;
    // a key id is the start of that check value.
    await q.query(
      "UPDATE image SET key_id = (SELECT SUBSTR(s.value, 1, 16) FROM server_secret s WHERE s.name = 'encryption-key-check') WHERE wrapped_key IS NOT NULL",
    );
    // The hashes of images whose key is already gone.
    await q.query('UPDATE image SET sha256 = NULL WHERE ended_at IS NOT NULL');

    // Values stay plain (key_id null) until the first server start wraps them: only it has the master key.
    await q.addColumn('server_secret', new TableColumn({ name: 'key_id', type: 'varchar', length: '16', isNullable: true }));
    await q.addColumn('download_grant', new TableColumn({ name: 'served_bytes', type: 'int', default: 0 }));

    await q.createIndex('message', new TableIndex({ name: 'idx_message_ended', columnNames: ['ended_at'] }));
    // A message born ended (the receiver blocked the sender) looks pending to its sender until
    // its image expires: it is kept as long as an unopened one would be.
    await q.query(
      "UPDATE message SET ended_at = (SELECT i.expires_at FROM image i WHERE i.id = message.image_id) WHERE end_reason = 'blocked'",
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("UPDATE message SET ended_at = send_time WHERE end_reason = 'blocked'");
    await q.dropIndex('message', 'idx_message_ended');
    await q.dropColumn('download_grant', 'served_bytes');
    // Earlier versions read a secret as stored and cannot unwrap one: wrapped secrets go, and
    // the server makes new ones (download URLs and receipts signed before no longer verify).
    await q.query('DELETE FROM server_secret WHERE key_id IS NOT NULL');
    await q.dropColumn('server_secret', 'key_id');
    await q.dropIndex('image', 'idx_image_ended');
    await q.dropIndex('image', 'idx_image_key_id');
    await q.dropColumn('image', 'key_id');
    await q.query("UPDATE image SET sha256 = '' WHERE sha256 IS NULL");
    await q.changeColumn('image', 'sha256', sha256(false));
  }
}
