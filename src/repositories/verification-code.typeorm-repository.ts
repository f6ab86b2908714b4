import { DataSource, IsNull, LessThan, MoreThan, Repository } from 'typeorm';
import { deleteBatch } from '../database';
import { VerificationCode } from '../entities/verification-code.entity';
import type { NewVerificationCode, VerificationCodeRepository } from './verification-code.repository';

export class TypeormVerificationCodeRepository implements VerificationCodeRepository {
  private readonly codes: Repository<VerificationCode>;

  constructor(private readonly db: DataSource) {
    this.codes = db.getRepository(VerificationCode);
  }

  async replace(code: NewVerificationCode): Promise<void> {
    // One statement on both dialects (ON DUPLICATE KEY UPDATE / ON CONFLICT DO UPDATE).
    await this.codes.upsert({ ...code, attempts: 0, usedAt: null }, { conflictPaths: ['phoneHash'], skipUpdateIfNoValuesChanged: false });
  }

  findByPhoneHash(phoneHash: string): Promise<VerificationCode | null> {
    return this.codes.findOneBy({ phoneHash });
  }

  async countWrongTry(id: number, maxAttempts: number): Promise<boolean> {
    const r = await this.codes
      .createQueryBuilder()
      .update()
      .set({ attempts: () => 'attempts + 1' })
      .where({ id, attempts: LessThan(maxAttempts) })
      .execute();
    return (r.affected ?? 0) > 0;
  }

  async claim(id: number, codeHash: string, maxAttempts: number, now: Date): Promise<boolean> {
    const r = await this.codes.update(
      { id, codeHash, usedAt: IsNull(), attempts: LessThan(maxAttempts), expiresAt: MoreThan(now) },
      { usedAt: now },
    );
    return (r.affected ?? 0) > 0;
  }

  async remove(phoneHash: string, codeHash: string): Promise<void> {
    await this.codes.delete({ phoneHash, codeHash });
  }

  deleteExpired(before: Date, limit: number): Promise<number> {
    return deleteBatch(this.db, VerificationCode, 'expires_at < :before', { before }, limit);
  }
}
