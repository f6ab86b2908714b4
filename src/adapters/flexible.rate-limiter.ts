import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import {
  RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterMySQL,
  RateLimiterRedis,
  RateLimiterRes,
  RateLimiterSQLite,
} from 'rate-limiter-flexible';
import type { RateLimitName, RateLimitRule } from '../config';
import type { Logger } from '../logger';
import type { RateDecision, RateLimitCharge, RateLimiter } from './rate-limiter';

/** Where the counters live; every instance that points at the same store shares them. */
export type RateLimitStore =
  | { kind: 'redis'; client: Redis; keyPrefix: string }
  /** TypeORM's mysql2 (callback) pool: the counters ride on the app's own connections. */
  | { kind: 'mysql'; pool: unknown; database: string }
  /** TypeORM's better-sqlite3 connection: a second connection would block the event loop on the write lock. */
  | { kind: 'sqlite'; connection: unknown }
  | { kind: 'memory' };

/** The table the migration creates; the library's own layout (key, points, expire). */
export const RATE_LIMIT_TABLE = 'rate_limit';
const CLEAR_EVERY_MS = 5 * 60_000;

/**
 * rate-limiter-flexible behind the RateLimiter contract: one fixed-window limiter per rule, all in
 * one table (or one Redis key space), each backed by an in-memory limiter that takes over, per
 * instance, while the shared store is unreachable.
 */
export class FlexibleRateLimiter implements RateLimiter {
  private readonly limiters = new Map<RateLimitName, RateLimiterAbstract>();
  private readonly sweeper: NodeJS.Timeout | null = null;

  constructor(
    rules: Record<RateLimitName, RateLimitRule>,
    private readonly store: RateLimitStore,
    private readonly log: Logger,
    /** Told of every rule that refuses an action (the metrics count them). */
    private readonly onRefused: (rule: RateLimitName) => void = () => undefined,
  ) {
    for (const [name, rule] of Object.entries(rules) as [RateLimitName, RateLimitRule][]) {
      const base = { keyPrefix: name, points: rule.points, duration: rule.durationSeconds };
      const insuranceLimiter = new RateLimiterMemory(base);
      let limiter: RateLimiterAbstract;
      switch (store.kind) {
        case 'redis':
          limiter = new RateLimiterRedis({
            ...base,
            keyPrefix: `${store.keyPrefix}${name}`,
            storeClient: store.client,
            useRedisPackage: false,
            rejectIfRedisNotReady: true,
            insuranceLimiter,
          });
          break;
        case 'mysql':
          limiter = new RateLimiterMySQL({
            ...base,
            storeClient: store.pool,
            storeType: 'pool',
            dbName: store.database,
            tableName: RATE_LIMIT_TABLE,
            tableCreated: true,
            clearExpiredByTimeout: false,
            insuranceLimiter,
          });
          break;
        case 'sqlite':
          limiter = new RateLimiterSQLite({
            ...base,
            storeClient: store.connection,
            storeType: 'better-sqlite3',
            tableName: RATE_LIMIT_TABLE,
            tableCreated: true,
            clearExpiredByTimeout: false,
            insuranceLimiter,
          });
          break;
        default:
          limiter = insuranceLimiter;
      }
      this.limiters.set(name, limiter);
    }
    if (store.kind === 'mysql' || store.kind === 'sqlite') {
      // One sweep for the shared table (the library would start one timer per rule).
      const any = this.limiters.values().next().value as unknown as { clearExpired(before: number): Promise<void> };
      this.sweeper = setInterval(() => {
        any.clearExpired(Date.now() - 3600_000).catch((err) => this.log.warn({ err }, 'could not clear expired rate-limit rows'));
      }, CLEAR_EVERY_MS);
      this.sweeper.unref();
    }
  }

  async consume(charges: RateLimitCharge[]): Promise<RateDecision> {
    const spends = charges.map((c) => {
      const limiter = this.limiters.get(c.rule);
      if (!limiter) throw new Error(`unknown rate limit ${c.rule}`);
      return { limiter, key: storeKey(c.key), points: c.points ?? 1 };
    });
    const results = await Promise.allSettled(spends.map((s) => s.limiter.consume(s.key, s.points)));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    if (refused.length) {
      // A refused consume has still counted its point: give back every point of this call.
      await Promise.all(spends.map((s) => s.limiter.reward(s.key, s.points).catch(() => undefined)));
      const failure = refused.find((r) => !(r instanceof RateLimiterRes));
      if (failure) throw failure;
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.onRefused(charges[i].rule);
      });
      return { allowed: false, retryAfterMs: Math.max(...refused.map((r: RateLimiterRes) => r.msBeforeNext)) };
    }
    let nextInMs = 0;
    for (const r of results as PromiseFulfilledResult<RateLimiterRes>[]) {
      if (r.value.remainingPoints <= 0) nextInMs = Math.max(nextInMs, r.value.msBeforeNext);
    }
    return { allowed: true, nextInMs };
  }

  async reward(charges: RateLimitCharge[]): Promise<void> {
    await Promise.all(
      charges.map((c) => {
        const limiter = this.limiters.get(c.rule);
        if (!limiter) throw new Error(`unknown rate limit ${c.rule}`);
        return limiter.reward(storeKey(c.key), c.points ?? 1);
      }),
    );
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.store.kind === 'redis')
      await this.store.client.quit().catch(() => this.store.kind === 'redis' && this.store.client.disconnect());
  }
}

/** Counters are keyed by a digest, so that no address or number is kept in clear in the store. */
function storeKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 32);
}
