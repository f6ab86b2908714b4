import type { PushJobRepository } from '../repositories/push-job.repository';
import type { PushItem, PushQueue } from './push-queue';

/** Something that sends pushes sooner when told new ones were committed (the dispatcher). */
export interface PushWaker {
  wake(): void;
}

/**
 * The way into the push outbox for services. Pushes that must exist exactly when their own rows
 * do are written by those rows' repository in the same transaction; afterwards the service calls
 * `committed()`. Events that need no such tie use `enqueue`.
 */
export class PushOutbox implements PushQueue {
  constructor(
    private readonly jobs: PushJobRepository,
    private readonly waker: PushWaker,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Event pushes (they carry an `event` key, which names the job's kind). */
  async enqueue(items: PushItem[]): Promise<void> {
    if (!items.length) return;
    const kind = (p: Record<string, unknown>) => (typeof p.event === 'string' ? p.event : 'event');
    await this.jobs.enqueue(
      items.map((i) => ({ receiverUid: i.receiverUid, kind: kind(i.payload), payload: JSON.stringify(i.payload), expiresAt: null })),
      this.now(),
    );
    this.waker.wake();
  }

  /** Jobs were just committed: send them now rather than at the next poll. Never waits. */
  committed(): void {
    this.waker.wake();
  }

  /** Undelivered jobs, and how long the longest-due one has waited past its due time (0: none due). */
  async lag(): Promise<{ pending: number; oldestDueSeconds: number }> {
    const now = this.now();
    const { pending, oldestDueAt } = await this.jobs.backlog(now);
    return { pending, oldestDueSeconds: oldestDueAt ? Math.max(0, (now.getTime() - oldestDueAt.getTime()) / 1000) : 0 };
  }
}
