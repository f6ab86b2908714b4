import type { EnvReader } from './env-reader';

export interface GetuiConfig {
  appId: string;
  appKey: string;
  masterSecret: string;
  baseUrl: string;
  /** Every call to GeTui (auth or push) is abandoned after this long. */
  timeoutMs: number;
}

/** How the push dispatcher works through the outbox. */
export interface PushConfig {
  /** How often each instance looks for due jobs when nothing woke it. */
  pollMs: number;
  /** Jobs claimed (and sent side by side) at once by one instance. */
  batchSize: number;
  /** Tries before a job is marked failed. */
  maxAttempts: number;
  /** First retry delay; it doubles per attempt (with jitter) up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A claimed job whose sender vanished (crash) becomes claimable again after this long. */
  leaseMs: number;
}

export interface PushSection {
  pushProvider: 'log' | 'getui';
  getui: GetuiConfig | null;
  push: PushConfig;
  /** Sent, failed and skipped push jobs are deleted this many days after their outcome. */
  pushJobRetentionDays: number;
}

/** PUSH_PROVIDER, GETUI_*, PUSH_* (the outbox's dispatcher) and PUSH_JOB_RETENTION_DAYS. */
export function pushConfig(r: EnvReader): PushSection {
  const pushProvider = r.oneOf('PUSH_PROVIDER', 'log', ['log', 'getui'] as const);
  let getui: GetuiConfig | null = null;
  const getuiTimeoutMs = r.int('GETUI_TIMEOUT_MS', 10_000, 100, 120_000);
  if (pushProvider === 'getui') {
    const missing = ['GETUI_APP_ID', 'GETUI_APP_KEY', 'GETUI_MASTER_SECRET'].filter((n) => !r.env[n]);
    for (const n of missing) r.problem(`${n}: required when PUSH_PROVIDER=getui`);
    getui = {
      appId: r.str('GETUI_APP_ID', ''),
      appKey: r.str('GETUI_APP_KEY', ''),
      masterSecret: r.str('GETUI_MASTER_SECRET', ''),
      baseUrl: r.str('GETUI_BASE_URL', 'https://restapi.getui.com/v2').replace(/\/+$/, ''),
      timeoutMs: getuiTimeoutMs,
    };
    if (!/^https?:\/\/[^/]/.test(getui.baseUrl)) r.problem(`GETUI_BASE_URL: expected an http(s) URL, got "${getui.baseUrl}"`);
  }
  const retryBaseMs = r.int('PUSH_RETRY_BASE_MS', 1000, 1, 3_600_000);
  const push: PushConfig = {
    pollMs: r.int('PUSH_POLL_MS', 1000, 10, 3_600_000),
    batchSize: r.int('PUSH_BATCH_SIZE', 10, 1, 100),
    maxAttempts: r.int('PUSH_MAX_ATTEMPTS', 16, 1, 1000),
    retryBaseMs,
    retryMaxMs: Math.max(retryBaseMs, r.int('PUSH_RETRY_MAX_MS', 900_000, 1, 24 * 3_600_000)),
    // One send may make up to four calls (auth, push, re-auth on 10001 or a host switch, push
    // again); the lease outlives them all, so a live sender never sees its job claimed twice.
    leaseMs: 5 * getuiTimeoutMs,
  };
  return { pushProvider, getui, push, pushJobRetentionDays: r.int('PUSH_JOB_RETENTION_DAYS', 7, 1, 3650) };
}
