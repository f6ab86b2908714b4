import type { RateLimitName } from '../config';

export type { RateLimitName };

/** One budget to spend from: a rule and whose budget it is (a phone hash, an address, a uid). */
export interface RateLimitCharge {
  rule: RateLimitName;
  key: string;
  /** Points this call spends from the budget (1 unless the action is counted in units, as discovery counts hashes). */
  points?: number;
}

export type RateDecision =
  /** Spent; `nextInMs` is how long until the same charges would pass again (0: at once). */
  | { allowed: true; nextInMs: number }
  /** Refused and nothing spent; `retryAfterMs` is how long until they would pass. */
  | { allowed: false; retryAfterMs: number };

/**
 * Rate-limit counters shared by every server instance. Services see only this contract; the
 * store (database or Redis) is chosen in the container.
 */
export interface RateLimiter {
  /** Spends one point from every charge, or from none of them when any budget is spent. */
  consume(charges: RateLimitCharge[]): Promise<RateDecision>;
  /** Gives points back (an action that spent them then failed for reasons of its own). */
  reward(charges: RateLimitCharge[]): Promise<void>;
  close(): Promise<void>;
}

/** No limits at all: for unit tests that are not about limits. */
export const unlimited: RateLimiter = {
  consume: async () => ({ allowed: true, nextInMs: 0 }),
  reward: async () => undefined,
  close: async () => undefined,
};
