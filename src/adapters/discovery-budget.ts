import type { RateLimiter } from './rate-limiter';

/**
 * Each user's daily budget of phone hashes for contact discovery. A phone number has few enough
 * digits that its hash can be reversed by brute force; the budget is what protects the numbers.
 */
export type BudgetAnswer = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface DiscoveryBudget {
  /** Takes `n` hashes from the user's budget for today, all or nothing: a refused call spends none. */
  spend(uid: number, n: number): Promise<BudgetAnswer>;
  /** Gives `n` back (the call failed after spending). */
  refund(uid: number, n: number): Promise<void>;
}

/**
 * The budget as one more rule (`discovery`, DISCOVERY_DAILY_LIMIT a day) of the shared rate
 * limiter, so its counters live where every other limit's do: the database, or Redis.
 */
export class LimiterDiscoveryBudget implements DiscoveryBudget {
  constructor(private readonly limiter: RateLimiter) {}

  async spend(uid: number, n: number): Promise<BudgetAnswer> {
    if (n <= 0) return { ok: true };
    const decision = await this.limiter.consume([{ rule: 'discovery', key: `user:${uid}`, points: n }]);
    return decision.allowed ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)) };
  }

  async refund(uid: number, n: number): Promise<void> {
    if (n > 0) await this.limiter.reward([{ rule: 'discovery', key: `user:${uid}`, points: n }]);
  }
}
