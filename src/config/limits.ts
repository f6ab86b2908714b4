import { redactUrl } from './database';
import type { EnvReader } from './env-reader';

/**
 * Per-user limits on the actions that write or reach another person (a push, a membership): with
 * sequential uids, anything unbounded is done to everyone, and every push lands on someone's phone.
 */
const USER_ACTION_LIMIT_NAMES = ['friendRequest', 'friendRequestPush', 'block', 'groupCreate', 'groupMemberAdd', 'updateCid'] as const;
const USER_ACTION_LIMIT_DEFAULTS: Record<
  (typeof USER_ACTION_LIMIT_NAMES)[number],
  { env: string; points: number; durationSeconds: number }
> = {
  friendRequest: { env: 'RATE_LIMIT_FRIEND_REQUEST', points: 50, durationSeconds: 86_400 },
  // Per pair (asker, asked): a request repeated after a cancel still succeeds, silently.
  friendRequestPush: { env: 'RATE_LIMIT_FRIEND_REQUEST_PUSH', points: 1, durationSeconds: 86_400 },
  // Blocks and unblocks together.
  block: { env: 'RATE_LIMIT_BLOCK', points: 100, durationSeconds: 86_400 },
  groupCreate: { env: 'RATE_LIMIT_GROUP_CREATE', points: 20, durationSeconds: 86_400 },
  // Counted per member added, at creation too.
  groupMemberAdd: { env: 'RATE_LIMIT_GROUP_MEMBER_ADD', points: 200, durationSeconds: 86_400 },
  updateCid: { env: 'RATE_LIMIT_UPDATE_CID', points: 10, durationSeconds: 3600 },
};

/** Every rate-limited action; each has its own budget, configurable as RATE_LIMIT_<NAME>. */
export const RATE_LIMIT_NAMES = [
  'codeResend',
  'codePhone',
  'codeIp',
  'codePrefix',
  'registerPhone',
  'registerIp',
  'sendUser',
  'discovery',
  'registrationLockPin',
  'registrationLockSet',
  ...USER_ACTION_LIMIT_NAMES,
  'changeNumber',
  'exportData',
] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

export interface RateLimitRule {
  /** Actions allowed per window (already multiplied by RATE_LIMIT_MULTIPLIER). */
  points: number;
  durationSeconds: number;
}

/** The defaults and the variable that overrides each; docs/configuration.md gives the reason for every default. */
export const RATE_LIMIT_DEFAULTS: Record<RateLimitName, { env: string; points: number; durationSeconds: number }> = {
  codeResend: { env: 'RATE_LIMIT_CODE_RESEND', points: 1, durationSeconds: 60 },
  codePhone: { env: 'RATE_LIMIT_CODE_PHONE', points: 5, durationSeconds: 3600 },
  codeIp: { env: 'RATE_LIMIT_CODE_IP', points: 20, durationSeconds: 3600 },
  codePrefix: { env: 'RATE_LIMIT_CODE_PREFIX', points: 10, durationSeconds: 3600 },
  registerPhone: { env: 'RATE_LIMIT_REGISTER_PHONE', points: 10, durationSeconds: 3600 },
  registerIp: { env: 'RATE_LIMIT_REGISTER_IP', points: 30, durationSeconds: 3600 },
  sendUser: { env: 'RATE_LIMIT_SEND_USER', points: 200, durationSeconds: 3600 },
  // Phone hashes one user may submit to contact discovery a day (a count, not count/window).
  discovery: { env: 'DISCOVERY_DAILY_LIMIT', points: 10_000, durationSeconds: 86_400 },
  // Wrong registration lock PINs per account a day; then even the right one waits.
  registrationLockPin: { env: 'RATE_LIMIT_REGISTRATION_LOCK_PIN', points: 5, durationSeconds: 86_400 },
  // Setting or changing the PIN per user (each one is a deliberately slow hash).
  registrationLockSet: { env: 'RATE_LIMIT_REGISTRATION_LOCK_SET', points: 10, durationSeconds: 3600 },
  ...USER_ACTION_LIMIT_DEFAULTS,
  // The account's life: changeNumber tries per user a day (a wrong code counts too; each right
  // one replaces the token); data exports per user an hour (each reads every row the account has).
  changeNumber: { env: 'RATE_LIMIT_CHANGE_NUMBER', points: 5, durationSeconds: 86_400 },
  exportData: { env: 'RATE_LIMIT_EXPORT', points: 1, durationSeconds: 3600 },
};

export interface LimitsSection {
  redisUrl: string | null;
  /** Prefix of every rate-limit key in Redis, so that several deployments can share one server. */
  redisKeyPrefix: string;
  rateLimitMultiplier: number;
  rateLimits: Record<RateLimitName, RateLimitRule>;
  /** Phone hashes one user may submit to discovery per day, after the multiplier. */
  discoveryDailyLimit: number;
  /** Most members a group may have, its owner included. */
  maxGroupMembers: number;
  /** A registration lock lapses once the account has not been seen for this many days. */
  registrationLockDays: number;
}

/** REDIS_URL and REDIS_KEY_PREFIX (where counters live), RATE_LIMIT_*, DISCOVERY_DAILY_LIMIT, MAX_GROUP_MEMBERS, REGISTRATION_LOCK_DAYS. */
export function limitsConfig(r: EnvReader): LimitsSection {
  const redisUrlRaw = r.str('REDIS_URL', '');
  let redisUrl: string | null = null;
  if (redisUrlRaw) {
    try {
      const u = new URL(redisUrlRaw);
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('protocol');
      redisUrl = redisUrlRaw;
    } catch {
      r.problem(`REDIS_URL: expected redis://host:6379 (or rediss://), got "${redactUrl(redisUrlRaw)}"`);
    }
  }

  const multiplierRaw = r.str('RATE_LIMIT_MULTIPLIER', '1');
  let rateLimitMultiplier = Number(multiplierRaw);
  if (!/^\d+(\.\d+)?$/.test(multiplierRaw) || !(rateLimitMultiplier > 0) || rateLimitMultiplier > 1_000_000) {
    r.problem(`RATE_LIMIT_MULTIPLIER: expected a positive number up to 1000000, got "${multiplierRaw}"`);
    rateLimitMultiplier = 1;
  }
  const discoveryDailyLimit = r.int('DISCOVERY_DAILY_LIMIT', RATE_LIMIT_DEFAULTS.discovery.points, 1);
  const rateLimits = {} as Record<RateLimitName, RateLimitRule>;
  for (const name of RATE_LIMIT_NAMES) {
    const d = RATE_LIMIT_DEFAULTS[name];
    const rule = name === 'discovery' ? { points: discoveryDailyLimit, durationSeconds: d.durationSeconds } : rateRule(r, d.env, d);
    rateLimits[name] = { points: Math.max(1, Math.round(rule.points * rateLimitMultiplier)), durationSeconds: rule.durationSeconds };
  }
  return {
    redisUrl,
    redisKeyPrefix: r.str('REDIS_KEY_PREFIX', 'glimpse:rl:'),
    rateLimitMultiplier,
    rateLimits,
    discoveryDailyLimit: rateLimits.discovery.points,
    maxGroupMembers: r.int('MAX_GROUP_MEMBERS', 50, 2, 10_000),
    registrationLockDays: r.int('REGISTRATION_LOCK_DAYS', 7, 1, 3650),
  };
}

const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** `points/window`, the window in seconds or with a unit: `5/3600`, `5/1h`, `1/60s`. */
function rateRule(r: EnvReader, name: string, fallback: RateLimitRule): RateLimitRule {
  const raw = r.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const m = /^(\d{1,9})\/(\d{1,9})([smhd]?)$/.exec(raw.trim());
  const rule = m ? { points: Number(m[1]), durationSeconds: Number(m[2]) * UNIT_SECONDS[m[3]] } : null;
  if (!rule || rule.points < 1 || rule.durationSeconds < 1 || rule.durationSeconds > 30 * 86400) {
    r.problem(`${name}: expected <actions>/<window>, e.g. 5/3600 or 5/1h (window up to 30d), got "${raw}"`);
    return fallback;
  }
  return rule;
}
