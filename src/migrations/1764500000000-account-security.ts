import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * Verification codes (phone hash and an HMAC of the code only) and the shared rate-limit counters
 * in rate-limiter-flexible's own layout (key, points, expire, in that order: it inserts by position).
 */
export class AccountSecurity1764500000000 implements MigrationInterface {
  name = 'AccountSecurity1764500000000';

  async up(q: QueryRunner): Promise<void> {
    const ts = (name: string, nullable = false) => ({ name, type: 'datetime', precision: 3, isNullable: nullable });
    await q.createTable(
      new Table({
        name: 'verification_code',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'phone_hash', type: 'varchar', length: '64', isUnique: true },
          { name: 'code_hash', type: 'varchar', length: '64' },
          ts('sent_at'),
          ts('expires_at'),
          { name: 'attempts', type: 'int' },
          ts('used_at', true),
        ],
        indices: [new TableIndex({ name: 'idx_verification_code_expires', columnNames: ['expires_at'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'rate_limit',
        columns: [
          { name: 'key', type: 'varchar', length: '255', isPrimary: true },
          { name: 'points', type: 'int', default: 0 },
          { name: 'expire', type: 'bigint', isNullable: true },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('rate_limit');
    await q.dropTable('verification_code');
  }
}
