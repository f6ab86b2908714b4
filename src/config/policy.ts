/**
 * The fixed numbers of the server's rules: no variable sets them. They are named here, beside
 * the settable ones, so that the composition root only wires.
 */

/** A verification code works this long after it was sent: long enough for a slow SMS, short enough to leave little time for guessing. */
export const VERIFICATION_CODE_TTL_SECONDS = 600;

/** Wrong tries after which a verification code is burnt (one in 200,000 for a 6-digit code). */
export const VERIFICATION_MAX_ATTEMPTS = 5;

/** Images one expiry sweep claims at a time. */
export const SWEEP_BATCH_SIZE = 100;

/** How long a sweep's claim on a batch holds before another instance may take it (its run died). */
export const SWEEP_LEASE_MS = 5 * 60_000;

/** Rows the retention prune deletes per statement, so that no statement holds its locks for long. */
export const RETENTION_BATCH_SIZE = 1000;

/** Every few minutes, so that each run deletes a small backlog; a run with nothing to do is three index lookups. */
export const RETENTION_INTERVAL_MS = 10 * 60_000;
