/**
 * Each user's daily budget of phone hashes for contact discovery. A phone number has few enough
 * digits that its hash can be reversed by brute force; the budget is what protects the numbers.
 * Counters live where every server instance sees them (the database).
 */
export type BudgetAnswer = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface DiscoveryBudget {
  /** Takes `n` hashes from the user's budget for today, all or nothing: a refused call spends none. */
  spend(uid: number, n: number): Promise<BudgetAnswer>;
  /** Gives `n` back (the call failed after spending). */
  refund(uid: number, n: number): Promise<void>;
}
