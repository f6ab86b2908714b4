import type { OutboxRow } from '../repositories/push-job.repository';

/**
 * How committed outbox rows reach the instance where their receiver is subscribed: Redis pub/sub
 * with REDIS_URL, otherwise each instance reads the shared outbox table. Either way, each row
 * of a watched user reaches the handler once, and only rows committed after `watch` resolved
 * are promised.
 */
export interface EventFeed {
  readonly description: string;
  /** Where rows go; set once, before the first watch. */
  onRows(handler: (rows: OutboxRow[]) => void): void;
  /** Starts bringing `uid`'s rows to this instance; resolves once rows committed from now on will come. */
  watch(uid: number): Promise<void>;
  /** One watch fewer for `uid`; the last one stops its rows. */
  unwatch(uid: number): void;
  stop(): Promise<void>;
}

/** Counts each user's open subscriptions against their limit. */
export interface SubscriptionSlots {
  readonly description: string;
  /** Takes one of `uid`'s `limit` slots for the subscription `id`; false when all are taken. */
  acquire(uid: number, id: string, limit: number): Promise<boolean>;
  release(uid: number, id: string): Promise<void>;
  /** Releases every slot this instance holds. */
  stop(): Promise<void>;
}
