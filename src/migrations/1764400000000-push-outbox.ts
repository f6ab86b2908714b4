import { MigrationInterface, QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';

/** The push outbox: one row per push, written with what it announces, kept with its outcome. */
export class PushOutbox1764400000000 implements MigrationInterface {
  name = 'PushOutbox1764400000000';

  async up(q: QueryRunner): Promise<void> {
    const ts = (name: string, nullable = false) => ({ name, type: 'datetime', precision: 3, isNullable: nullable });
    await q.createTable(
      new Table({
        name: 'push_job',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'receiver_uid', type: 'int' },
          { name: 'kind', type: 'varchar', length: '32' },
          { name: 'payload', type: 'text' },
          { name: 'request_id', type: 'varchar', length: '32', isUnique: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'int' },
          ts('next_attempt_at'),
          { name: 'lease_token', type: 'varchar', length: '32', isNullable: true },
          ts('locked_until', true),
          { name: 'last_error', type: 'varchar', length: '512', isNullable: true },
          ts('expires_at', true),
          ts('created_at'),
          ts('updated_at'),
          ts('sent_at', true),
        ],
        indices: [
          new TableIndex({ name: 'idx_push_job_due', columnNames: ['status', 'next_attempt_at'] }),
          new TableIndex({ name: 'idx_push_job_receiver', columnNames: ['receiver_uid'] }),
        ],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['receiver_uid'],
            referencedTableName: 'user',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('push_job');
  }
}
