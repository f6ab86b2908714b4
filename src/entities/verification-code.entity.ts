import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The one live verification code of a phone. Neither the number nor the code is kept: the row is
 * found by the phone hash and holds only an HMAC of the code. Not a GraphQL type.
 */
@Entity({ name: 'verification_code' })
@Index('idx_verification_code_expires', ['expiresAt'])
export class VerificationCode {
  @PrimaryGeneratedColumn({ name: 'id', type: 'integer' })
  id: number;

  @Column({ name: 'phone_hash', type: 'varchar', length: 64, unique: true })
  phoneHash: string;

  /** HMAC-SHA256 (hex) of phone hash and code under a server secret. */
  @Column({ name: 'code_hash', type: 'varchar', length: 64 })
  codeHash: string;

  /** When the SMS went out; the next may go out when the rate limits allow. */
  @Column({ name: 'sent_at', type: 'datetime', precision: 3 })
  sentAt: Date;

  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt: Date;

  /** Wrong tries so far; at the limit the code is burnt. */
  @Column({ type: 'int' })
  attempts: number;

  @Column({ name: 'used_at', type: 'datetime', precision: 3, nullable: true })
  usedAt: Date | null;
}
