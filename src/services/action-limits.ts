import type { RateLimitCharge, RateLimiter } from '../adapters/rate-limiter';
import { RateLimitedError } from '../errors';

/** The budget key of one user's own actions (per-user limits). */
export function userKey(uid: number): string {
  return `user:${uid}`;
}

/**
 * Runs `action` once the charges are spent, all or none: RATE_LIMITED (with retryAfter) when a
 * budget is used up, nothing spent. An action that then fails gives its points back, so a
 * refused or failed call costs nothing.
 */
export async function withinLimits<T>(
  limiter: RateLimiter,
  charges: RateLimitCharge[],
  what: string,
  action: () => Promise<T>,
): Promise<T> {
  const decision = await limiter.consume(charges);
  if (!decision.allowed) {
    const after = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    throw new RateLimitedError(after, `Too many ${what}; try again in ${after} s`);
  }
  try {
    return await action();
  } catch (e) {
    await limiter.reward(charges).catch(() => undefined);
    throw e;
  }
}
