import { MigrationInterface, QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';

/** Users, images, messages and server secrets, written with the dialect-neutral schema API. */
export class Core1764300000000 implements MigrationInterface {
  name = 'Core1764300000000';

  async up(q: QueryRunner): Promise<void> {
    const ts = (name: string, nullable = false) => ({ name, type: 'datetime', precision: 3, isNullable: nullable });
    await q.createTable(
      new Table({
        name: 'user',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'cid', type: 'varchar', length: '64', isNullable: true },
          { name: 'ukey_hash', type: 'varchar', length: '64' },
          { name: 'region_num', type: 'varchar', length: '4' },
          { name: 'phone_num', type: 'varchar', length: '17' },
          { name: 'phone_hash', type: 'varchar', length: '64', isUnique: true },
          { name: 'nickname', type: 'varchar', length: '64' },
          ts('reg_time'),
          ts('updated_at'),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'image',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'object_name', type: 'varchar', length: '128', isUnique: true },
          { name: 'filetype', type: 'varchar', length: '64' },
          { name: 'size', type: 'int' },
          { name: 'sha256', type: 'varchar', length: '64' },
          ts('expires_at'),
          ts('created_at'),
          ts('blob_deleted_at', true),
        ],
        indices: [new TableIndex({ name: 'idx_image_expires', columnNames: ['expires_at'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'message',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'message_key', type: 'varchar', length: '64', isUnique: true },
          { name: 'sender_uid', type: 'int' },
          { name: 'receiver_uid', type: 'int' },
          { name: 'image_id', type: 'int' },
          ts('send_time'),
          { name: 'exist', type: 'boolean', default: true },
          { name: 'end_reason', type: 'varchar', length: '16', isNullable: true },
          ts('ended_at', true),
        ],
        indices: [
          new TableIndex({ name: 'idx_message_receiver_pending', columnNames: ['receiver_uid', 'exist', 'id'] }),
          new TableIndex({ name: 'idx_message_sender', columnNames: ['sender_uid', 'id'] }),
          new TableIndex({ name: 'idx_message_image', columnNames: ['image_id', 'exist'] }),
        ],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['sender_uid'],
            referencedTableName: 'user',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
          new TableForeignKey({
            columnNames: ['receiver_uid'],
            referencedTableName: 'user',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
          new TableForeignKey({
            columnNames: ['image_id'],
            referencedTableName: 'image',
            referencedColumnNames: ['id'],
            onDelete: 'RESTRICT',
          }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'server_secret',
        columns: [
          { name: 'name', type: 'varchar', length: '64', isPrimary: true },
          { name: 'value', type: 'varchar', length: '255' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('server_secret');
    await q.dropTable('message');
    await q.dropTable('image');
    await q.dropTable('user');
  }
}
