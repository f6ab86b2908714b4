import { MigrationInterface, QueryRunner, Table, TableColumn, TableForeignKey, TableIndex, TableUnique } from 'typeorm';

/**
 * The social graph: settings on the user, friendships (one row per unordered pair), blocks,
 * groups and their members, the group a message was sent to, and the discovery budget's
 * counters (the table rate-limiter-flexible's MySQL and SQLite stores expect, columns in order).
 */
export class Social1764700000000 implements MigrationInterface {
  name = 'Social1764700000000';

  async up(q: QueryRunner): Promise<void> {
    const ts = (name: string) => ({ name, type: 'datetime', precision: 3 });
    const id = { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' as const };
    const userFk = (column: string) =>
      new TableForeignKey({ columnNames: [column], referencedTableName: 'user', referencedColumnNames: ['id'], onDelete: 'CASCADE' });

    await q.addColumns('user', [
      new TableColumn({ name: 'who_can_send_me', type: 'varchar', length: '8', default: "'EVERYONE'" }),
      new TableColumn({ name: 'discoverable', type: 'boolean', default: true }),
    ]);
    // Covers discovery entirely: a lookup reads this index alone, never the wider rows, so its
    // working set stays small enough to be cached as the user table grows.
    await q.createIndex(
      'user',
      new TableIndex({ name: 'idx_user_discovery', columnNames: ['phone_hash', 'discoverable', 'nickname', 'region_num', 'reg_time'] }),
    );

    await q.createTable(
      new Table({
        name: 'friendship',
        columns: [
          id,
          { name: 'user_low', type: 'int' },
          { name: 'user_high', type: 'int' },
          { name: 'requester_uid', type: 'int' },
          { name: 'state', type: 'varchar', length: '10' },
          ts('created_at'),
          ts('updated_at'),
        ],
        // The unique pair serves "friends of X" for user_low = X; the index serves user_high = X.
        uniques: [new TableUnique({ name: 'uq_friendship_pair', columnNames: ['user_low', 'user_high'] })],
        indices: [new TableIndex({ name: 'idx_friendship_high', columnNames: ['user_high', 'state'] })],
        foreignKeys: [userFk('user_low'), userFk('user_high')],
      }),
    );

    await q.createTable(
      new Table({
        name: 'user_block',
        columns: [
          { name: 'blocker_uid', type: 'int', isPrimary: true },
          { name: 'blocked_uid', type: 'int', isPrimary: true },
          ts('created_at'),
        ],
        indices: [new TableIndex({ name: 'idx_user_block_blocked', columnNames: ['blocked_uid', 'blocker_uid'] })],
        foreignKeys: [userFk('blocker_uid'), userFk('blocked_uid')],
      }),
    );

    await q.createTable(
      new Table({
        name: 'user_group',
        columns: [id, { name: 'name', type: 'varchar', length: '64' }, { name: 'owner_uid', type: 'int' }, ts('created_at')],
        foreignKeys: [userFk('owner_uid')],
      }),
    );
    await q.createTable(
      new Table({
        name: 'group_member',
        columns: [id, { name: 'group_id', type: 'int' }, { name: 'user_uid', type: 'int' }, ts('joined_at')],
        uniques: [new TableUnique({ name: 'uq_group_member', columnNames: ['group_id', 'user_uid'] })],
        indices: [new TableIndex({ name: 'idx_group_member_user', columnNames: ['user_uid', 'group_id'] })],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['group_id'],
            referencedTableName: 'user_group',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
          userFk('user_uid'),
        ],
      }),
    );

    await q.addColumn('message', new TableColumn({ name: 'group_id', type: 'int', isNullable: true }));
    await q.createForeignKey(
      'message',
      new TableForeignKey({
        columnNames: ['group_id'],
        referencedTableName: 'user_group',
        referencedColumnNames: ['id'],
        onDelete: 'SET NULL',
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const message = await q.getTable('message');
    const fk = message?.foreignKeys.find((f) => f.columnNames.includes('group_id'));
    if (fk) await q.dropForeignKey('message', fk);
    await q.dropColumn('message', 'group_id');
    await q.dropTable('group_member');
    await q.dropTable('user_group');
    await q.dropTable('user_block');
    await q.dropTable('friendship');
    await q.dropIndex('user', 'idx_user_discovery');
    await q.dropColumn('user', 'discoverable');
    await q.dropColumn('user', 'who_can_send_me');
  }
}
