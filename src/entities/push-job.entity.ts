import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type PushJobStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'skipped';

/**
 * One push in the transactional outbox: written in the same transaction as what it announces,
 * claimed and sent by a dispatcher in any server instance, and kept with its outcome.
 */
@Entity({ name: 'push_job' })
@Index('idx_push_job_due', ['status', 'nextAttemptAt'])
@Index('idx_push_job_finished', ['status', 'updatedAt'])
export class PushJob {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  /** Whose device gets it; the cid is looked up when the job is sent, so updateCid redirects it. */
  @Column({ name: 'receiver_uid', type: 'int' })
  receiverUid: number;

  /** A device to reach instead of the receiver's current one: the old device of an account that moved. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  cid: string | null;

  /** What the push is about: 'image' now; friend requests and receipts later. */
  @Column({ type: 'varchar', length: 32 })
  kind: string;

  /** The JSON text the app receives. */
  @Column({ type: 'text' })
  payload: string;

  /** The provider's idempotency key, the same on every attempt (GeTui drops a repeated one). */
  @Column({ name: 'request_id', type: 'varchar', length: 32, unique: true })
  requestId: string;

  @Column({ type: 'varchar', length: 16 })
  status: PushJobStatus;

  /** Attempts started so far; each claim adds one. */
  @Column({ type: 'int' })
  attempts: number;

  /** When the job is next due: its retry time while pending, its lease end while sending. */
  @Column({ name: 'next_attempt_at', type: 'datetime', precision: 3 })
  nextAttemptAt: Date;

  /** While sending: the claim that owns the job, so a late outcome from a lost lease is ignored. */
  @Column({ name: 'lease_token', type: 'varchar', length: 32, nullable: true })
  leaseToken: string | null;

  /** While sending: when another dispatcher may take the job over (its sender is presumed dead). */
  @Column({ name: 'locked_until', type: 'datetime', precision: 3, nullable: true })
  lockedUntil: Date | null;

  /** Why the last attempt did not deliver, or why the job was failed or skipped. */
  @Column({ name: 'last_error', type: 'varchar', length: 512, nullable: true })
  lastError: string | null;

  /** After this the push is pointless (the image is gone); it also bounds the provider's ttl. */
  @Column({ name: 'expires_at', type: 'datetime', precision: 3, nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;

  @Column({ name: 'sent_at', type: 'datetime', precision: 3, nullable: true })
  sentAt: Date | null;
}
