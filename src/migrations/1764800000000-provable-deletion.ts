import { MigrationInterface, QueryRunner, Table, TableColumn, TableForeignKey, TableIndex } from 'typeorm';

/** Per-image keys (wrapped by ENCRYPTION_KEY) for encryption at rest; one-time download grants; delivery facts
 * for the sender (downloaded, screenshot); users' public keys for sealed sends. */
export class ProvableDeletion1764800000000 implements MigrationInterface {
  name = 'ProvableDeletion1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('image', [
      new TableColumn({ name: 'cipher', type: 'varchar', length: '32', isNullable: true }),
      new TableColumn({ name: 'wrapped_key', type: 'varchar', length: '128', isNullable: true }),
    ]);
    await q.addColumns('message', [
      new TableColumn({ name: 'downloaded_at', type: 'datetime', precision: 3, isNullable: true }),
      new TableColumn({ name: 'screenshot_at', type: 'datetime', precision: 3, isNullable: true }),
    ]);
    await q.createIndex('message', new TableIndex({ name: 'idx_message_downloaded', columnNames: ['exist', 'downloaded_at'] }));
    await q.addColumn('user', new TableColumn({ name: 'public_key', type: 'varchar', length: '44', isNullable: true }));
    await q.createTable(
      new Table({
        name: 'download_grant',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'message_id', type: 'int' },
          { name: 'created_at', type: 'datetime', precision: 3 },
          { name: 'completed_at', type: 'datetime', precision: 3, isNullable: true },
        ],
        indices: [new TableIndex({ name: 'idx_download_grant_message', columnNames: ['message_id'] })],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['message_id'],
            referencedTableName: 'message',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('download_grant');
    await q.dropColumn('user', 'public_key');
    await q.dropIndex('message', 'idx_message_downloaded');
    await q.dropColumn('message', 'screenshot_at');
    await q.dropColumn('message', 'downloaded_at');
    await q.dropColumn('image', 'wrapped_key');
    await q.dropColumn('image', 'cipher');
  }
}
