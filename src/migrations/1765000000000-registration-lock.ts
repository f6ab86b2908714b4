import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * The registration lock: the PIN's slow hash and when the account was last seen (the lock lapses
 * after a stretch of inactivity); and a push job's own cid, for the notice that reaches the old
 * device after its account moved to a new one.
 */
export class RegistrationLock1765000000000 implements MigrationInterface {
  name = 'RegistrationLock1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('user', [
      new TableColumn({ name: 'registration_lock', type: 'varchar', length: '160', isNullable: true }),
      new TableColumn({ name: 'last_seen_at', type: 'datetime', precision: 3, isNullable: true }),
    ]);
    await q.addColumn('push_job', new TableColumn({ name: 'cid', type: 'varchar', length: '64', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('push_job', 'cid');
    await q.dropColumn('user', 'last_seen_at');
    await q.dropColumn('user', 'registration_lock');
  }
}
