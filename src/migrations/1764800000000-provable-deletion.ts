import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Per-image keys (wrapped by ENCRYPTION_KEY) for encryption at rest. */
export class ProvableDeletion1764800000000 implements MigrationInterface {
  name = 'ProvableDeletion1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('image', [
      new TableColumn({ name: 'cipher', type: 'varchar', length: '32', isNullable: true }),
      new TableColumn({ name: 'wrapped_key', type: 'varchar', length: '128', isNullable: true }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('image', 'wrapped_key');
    await q.dropColumn('image', 'cipher');
  }
}
