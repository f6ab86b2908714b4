import type Redis from 'ioredis';
import type { Logger } from '../logger';
import type { SubscriptionSlots } from '../services/event-feed';

/** Without Redis: each instance counts only the subscriptions it holds. */
export class LocalSubscriptionSlots implements SubscriptionSlots {
  readonly description = 'per instance';
  private readonly held = new Map<number, Set<string>>();

  async acquire(uid: number, id: string, limit: number): Promise<boolean> {
    const ids = this.held.get(uid) ?? new Set<string>();
    if (ids.size >= limit) return false;
    ids.add(id);
    this.held.set(uid, ids);
    return true;
  }

  async release(uid: number, id: string): Promise<void> {
    const ids = this.held.get(uid);
    if (!ids) return;
    ids.delete(id);
    if (!ids.size) this.held.delete(uid);
  }

  async stop(): Promise<void> {
    this.held.clear();
  }
}

/** A slot lives this long unless its instance renews it: a crashed instance's slots free themselves. */
const SLOT_TTL_MS = 60_000;

/** Drops lapsed slots, then takes one if fewer than the limit are left: atomic in Redis. */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/**
 * With Redis: one sorted set per user, shared by every instance, of subscription ids scored by
 * when they lapse. Each instance renews the slots it holds every third of SLOT_TTL_MS.
 */
export class RedisSubscriptionSlots implements SubscriptionSlots {
  readonly description = 'across instances (redis)';
  private readonly held = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.renew(), SLOT_TTL_MS / 3).unref();
  }

  async acquire(uid: number, id: string, limit: number): Promise<boolean> {
    const now = this.now();
    const ok = await this.client.eval(ACQUIRE, 1, this.key(uid), now, now + SLOT_TTL_MS, limit, id, SLOT_TTL_MS);
    if (ok !== 1) return false;
    this.held.set(id, uid);
    return true;
  }

  async release(uid: number, id: string): Promise<void> {
    this.held.delete(id);
    await this.client.zrem(this.key(uid), id);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const batch = this.client.pipeline();
    for (const [id, uid] of this.held) batch.zrem(this.key(uid), id);
    this.held.clear();
    await batch.exec().catch((err) => this.log.warn({ err }, 'realtime: could not release subscription slots; they lapse by themselves'));
  }

  private key(uid: number): string {
    return `${this.prefix}${uid}`;
  }

  private async renew(): Promise<void> {
    if (!this.held.size) return;
    const until = this.now() + SLOT_TTL_MS;
    const batch = this.client.pipeline();
    for (const [id, uid] of this.held) {
      batch.zadd(this.key(uid), 'XX', until, id);
      batch.pexpire(this.key(uid), SLOT_TTL_MS);
    }
    await batch.exec().catch((err) => this.log.warn({ err }, 'realtime: could not renew subscription slots'));
  }
}
