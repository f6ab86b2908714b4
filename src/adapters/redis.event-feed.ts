import type Redis from 'ioredis';
import type { Logger } from '../logger';
import type { OutboxRow, PushJobRepository } from '../repositories/push-job.repository';
import type { EventFeed } from '../services/event-feed';

/** A row as it travels on a channel. */
interface WireRow {
  id: number;
  receiverUid: number;
  kind: string;
  payload: string;
  createdAt: string;
}

/**
 * The feed with REDIS_URL: every outbox row this instance commits is published on its
 * receiver's channel, and each instance subscribes to the channels of the users connected to it.
 * Redis pub/sub keeps nothing: a row published while no instance listens (or while Redis is
 * away) reaches its receiver by push only.
 */
export class RedisEventFeed implements EventFeed {
  readonly description = 'redis pub/sub';
  private handler: (rows: OutboxRow[]) => void = () => undefined;
  private readonly watched = new Map<number, number>();

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    jobs: PushJobRepository,
    private readonly log: Logger,
  ) {
    jobs.onCommitted((rows) => this.publish(rows));
    subscriber.on('message', (channel: string, message: string) => this.receive(channel, message));
  }

  onRows(handler: (rows: OutboxRow[]) => void): void {
    this.handler = handler;
  }

  async watch(uid: number): Promise<void> {
    const count = (this.watched.get(uid) ?? 0) + 1;
    this.watched.set(uid, count);
    // Commands on one connection run in order: a later unsubscribe cannot overtake this.
    if (count === 1) {
      try {
        await this.subscriber.subscribe(this.channel(uid));
      } catch (e) {
        this.unwatch(uid);
        throw e;
      }
    }
  }

  unwatch(uid: number): void {
    const count = (this.watched.get(uid) ?? 0) - 1;
    if (count > 0) {
      this.watched.set(uid, count);
      return;
    }
    if (!this.watched.delete(uid)) return;
    this.subscriber.unsubscribe(this.channel(uid)).catch((err) => this.log.warn({ err, uid }, 'realtime: could not unsubscribe'));
  }

  async stop(): Promise<void> {
    this.watched.clear();
    await Promise.all([this.subscriber.quit(), this.publisher.quit()].map((p) => p.catch(() => undefined)));
  }

  private channel(uid: number): string {
    return `${this.prefix}${uid}`;
  }

  private publish(rows: OutboxRow[]): void {
    const batch = this.publisher.pipeline();
    for (const r of rows) {
      const wire: WireRow = {
        id: r.id,
        receiverUid: r.receiverUid,
        kind: r.kind,
        payload: r.payload,
        createdAt: new Date(r.createdAt).toISOString(),
      };
      batch.publish(this.channel(r.receiverUid), JSON.stringify(wire));
    }
    batch.exec().catch((err) => this.log.warn({ err, count: rows.length }, 'realtime: could not publish events; they go by push only'));
  }

  private receive(channel: string, message: string): void {
    try {
      const w = JSON.parse(message) as WireRow;
      if (channel !== this.channel(w.receiverUid) || !this.watched.has(w.receiverUid)) return;
      this.handler([{ id: w.id, receiverUid: w.receiverUid, kind: w.kind, payload: w.payload, createdAt: new Date(w.createdAt) }]);
    } catch (err) {
      this.log.warn({ err, channel }, 'realtime: unreadable message on an event channel');
    }
  }
}
