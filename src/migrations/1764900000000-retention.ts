import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Indexes the retention prune finds its rows by, so that each of its bounded deletes reads only
 * the rows it removes (verification_code already has idx_verification_code_expires).
 */
export class Retention1764900000000 implements MigrationInterface {
  name = 'Retention1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('download_grant', new TableIndex({ name: 'idx_download_grant_created', columnNames: ['created_at'] }));
    await q.createIndex('push_job', new TableIndex({ name: 'idx_push_job_finished', columnNames: ['status', 'updated_at'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('push_job', 'idx_push_job_finished');
    await q.dropIndex('download_grant', 'idx_download_grant_created');
  }
}
