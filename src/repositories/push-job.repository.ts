import type { PushJob } from '../entities/push-job.entity';

/** A push to write into the outbox. */
export interface NewPushJob {
  receiverUid: number;
  /** The device to reach when it is not the receiver's current one (the old device after a move). */
  cid?: string | null;
  kind: string;
  /** The JSON text the device receives. */
  payload: string;
  /** When the push stops being worth sending; null for events that do not expire. */
  expiresAt: Date | null;
}

/** A job this dispatcher now owns, with the receiver's cid as it stands now (null: no device). */
export interface ClaimedPushJob {
  job: PushJob;
  cid: string | null;
}

/** What became of one attempt. */
export type PushJobOutcome =
  | { status: 'sent'; detail?: string }
  | { status: 'pending'; nextAttemptAt: Date; error: string }
  | { status: 'failed' | 'skipped'; error: string };

/**
 * The push outbox. Jobs are written with what they announce (see
 * MessageRepository.createImageWithMessages) or on their own with `enqueue`; dispatchers in any
 * number of server instances claim due jobs without ever owning the same job at once.
 */
export interface PushJobRepository {
  /** Writes jobs on their own (for events whose own rows are already committed). */
  enqueue(jobs: NewPushJob[], now: Date): Promise<PushJob[]>;
  /**
   * Takes up to `limit` due jobs: pending ones whose time has come, and sending ones whose lease
   * ran out (their dispatcher died). Each comes back as status sending, one more attempt, a fresh
   * lease token and a lease of `leaseMs`.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<ClaimedPushJob[]>;
  /** Records the outcome of a claim. False when the claim was lost (the lease ran out and another took it). */
  record(job: PushJob, outcome: PushJobOutcome, now: Date): Promise<boolean>;
  /**
   * Deletes up to `limit` finished jobs (sent, failed or skipped) whose outcome was recorded
   * before `before`; pending and sending jobs are never touched. Answers how many went.
   */
  deleteFinishedBefore(before: Date, limit: number): Promise<number>;
  /**
   * Records `sent` for several claimed jobs at once (a group send's pushes are claimed together):
   * one statement per claim, not one per job. Returns how many of them their claim still held.
   */
  recordSent(jobs: PushJob[], now: Date): Promise<number>;
}
