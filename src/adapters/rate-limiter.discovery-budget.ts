import { RateLimiterAbstract, RateLimiterMemory, RateLimiterMySQL, RateLimiterRes, RateLimiterSQLite } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config';
import type { BudgetAnswer, DiscoveryBudget } from './discovery-budget';

const DAY_SECONDS = 24 * 3600;
/** Created by the Social migration, with the columns rate-limiter-flexible's stores expect. */
const TABLE = 'rate_limit_discovery';

/** The budget counted by rate-limiter-flexible: a fixed window of one day per user. */
export class RateLimiterDiscoveryBudget implements DiscoveryBudget {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  async spend(uid: number, n: number): Promise<BudgetAnswer> {
    if (n <= 0) return { ok: true };
    try {
      await this.limiter.consume(String(uid), n);
      return { ok: true };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      // consume() counts the points even when it refuses: give them back so that a refused
      // call spends nothing. Concurrent callers may see the brief excess and be refused too,
      // which errs on the safe side.
      await this.limiter.reward(String(uid), n);
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) };
    }
  }

  async refund(uid: number, n: number): Promise<void> {
    if (n > 0) await this.limiter.reward(String(uid), n);
  }
}

/**
 * The budget on the app's own database connection: its MySQL pool, or its better-sqlite3
 * handle (synchronous, so a counter update cannot interleave with another on that handle).
 */
export function createDiscoveryBudget(db: DataSource, database: DatabaseConfig, perDay: number): DiscoveryBudget {
  const common = { points: perDay, duration: DAY_SECONDS, keyPrefix: 'discovery', tableName: TABLE, tableCreated: true };
  const driver = db.driver as unknown as { pool?: unknown; databaseConnection?: unknown };
  if (database.kind === 'mysql') {
    return new RateLimiterDiscoveryBudget(
      new RateLimiterMySQL({ ...common, storeClient: driver.pool, storeType: 'pool', dbName: database.database }),
    );
  }
  return new RateLimiterDiscoveryBudget(
    new RateLimiterSQLite({ ...common, storeClient: driver.databaseConnection, storeType: 'better-sqlite3', clearExpiredByTimeout: true }),
  );
}

/** For unit tests: the same budget with counters in memory. */
export function memoryDiscoveryBudget(perDay: number): DiscoveryBudget {
  return new RateLimiterDiscoveryBudget(new RateLimiterMemory({ points: perDay, duration: DAY_SECONDS }));
}
