import type { PushJob } from '../entities/push-job.entity';
import type { PushJobRepository } from '../repositories/push-job.repository';

/** Something that sends pushes sooner when told new ones were committed (the dispatcher). */
export interface PushWaker {
  wake(): void;
}

/**
 * The way into the push outbox for services. Pushes that must exist exactly when their own rows
 * do are written by those rows' repository in the same transaction; afterwards the service calls
 * `committed()`. Events that need no such tie use `enqueue`.
 */
export class PushOutbox {
  constructor(
    private readonly jobs: PushJobRepository,
    private readonly waker: PushWaker,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async enqueue(receiverUid: number, kind: string, payload: string, expiresAt: Date | null = null): Promise<PushJob> {
    const [job] = await this.jobs.enqueue([{ receiverUid, kind, payload, expiresAt }], this.now());
    this.waker.wake();
    return job;
  }

  /** Jobs were just committed: send them now rather than at the next poll. Never waits. */
  committed(): void {
    this.waker.wake();
  }
}
