import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/** What the expiry sweeper and the orphan collector need to find their work by index. */
export class Lifecycle1764600000000 implements MigrationInterface {
  name = 'Lifecycle1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('image', [
      new TableColumn({ name: 'ended_at', type: 'datetime', precision: 3, isNullable: true }),
      new TableColumn({ name: 'gc_lease_until', type: 'datetime', precision: 3, isNullable: true }),
    ]);
    await q.dropIndex('image', 'idx_image_expires');
    await q.createIndices('image', [
      new TableIndex({ name: 'idx_image_live_expiry', columnNames: ['blob_deleted_at', 'expires_at'] }),
      new TableIndex({ name: 'idx_image_live_ended', columnNames: ['blob_deleted_at', 'ended_at'] }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('image', 'idx_image_live_ended');
    await q.dropIndex('image', 'idx_image_live_expiry');
    await q.createIndex('image', new TableIndex({ name: 'idx_image_expires', columnNames: ['expires_at'] }));
    await q.dropColumn('image', 'gc_lease_until');
    await q.dropColumn('image', 'ended_at');
  }
}
