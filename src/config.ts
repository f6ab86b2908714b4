import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { normalizePhone } from './services/phone';

/**
 * The only reader of process.env. Every variable is parsed and checked here, and a bad value
 * stops start-up with one message that names every bad variable at once.
 */

export type DatabaseConfig =
  | { kind: 'mysql'; url: string; database: string }
  | { kind: 'sqlite'; file: string };

export interface S3Config {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
}

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

/**
 * Per-user limits on the actions that write or reach another person (a push, a membership): with
 * sequential uids, anything unbounded is done to everyone, and every push lands on someone's phone.
 */
const USER_ACTION_LIMIT_NAMES = ['friendRequest', 'friendRequestPush', 'block', 'groupCreate', 'groupMemberAdd', 'updateCid'] as const;
const USER_ACTION_LIMIT_DEFAULTS: Record<(typeof USER_ACTION_LIMIT_NAMES)[number], { env: string; points: number; durationSeconds: number }> = {
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
};

export interface AliyunSmsConfig {
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  templateCode: string;
  /** The template variable that receives the code, `${code}` in the usual template. */
  templateParam: string;
  /** host[:port] of the SMS API. */
  endpoint: string;
  protocol: 'https' | 'http';
  timeoutMs: number;
}

export interface GraphqlLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  publicUrl: string;
  database: DatabaseConfig;
  migrationsRun: boolean;
  s3: S3Config | null;
  dataDir: string;
  pushProvider: 'log' | 'getui';
  getui: GetuiConfig | null;
  push: PushConfig;
  /** Sent, failed and skipped push jobs are deleted this many days after their outcome. */
  pushJobRetentionDays: number;
  maxImageBytes: number;
  imageTtlSeconds: number;
  downloadUrlTtlSeconds: number;
  /** ENCRYPTION_KEY (32 bytes); null means: ENCRYPTION_KEY_FILE, or else the one kept in DATA_DIR, made on first run. */
  encryptionKey: Buffer | null;
  /** ENCRYPTION_KEY_FILE: a file holding the master key (a Docker or Kubernetes secret), read at start-up. */
  encryptionKeyFile: string | null;
  /** ENCRYPTION_KEY_PREVIOUS: the master key before a rotation; it only unwraps, until `npm run rewrap` has moved every key off it. */
  encryptionKeyPrevious: Buffer | null;
  /** Ended messages' rows (who sent what to whom, when) are deleted this many days after they ended. */
  messageRetentionDays: number;
  /** False only for the benchmark's comparison (ENCRYPTION=off): new images are stored unencrypted. */
  encryptUploads: boolean;
  /** A fully downloaded, unconfirmed message is confirmed this long after its first complete download. */
  autoConfirmSeconds: number;
  /** How often each instance ends expired images and deletes their blobs. */
  sweepIntervalSeconds: number;
  /** How often each instance looks for blobs with no row and rows with no blob. */
  orphanGcIntervalSeconds: number;
  /** A blob with no row is deleted only when older than this. */
  orphanGraceSeconds: number;
  /** Background tasks (sweeper, orphan collector, retention prune) run in this process. */
  backgroundJobs: boolean;
  /** Schema introspection and field suggestions in error messages; off in production unless asked for. */
  introspection: boolean;
  /** Phone hashes one user may submit to discovery per day, after the multiplier. */
  discoveryDailyLimit: number;
  /** Most members a group may have, its owner included. */
  maxGroupMembers: number;
  logLevel: string;
  /** Express's `trust proxy`: which hops may tell the client's address in X-Forwarded-For. */
  trustProxy: string;
  smsProvider: 'log' | 'aliyun';
  aliyunSms: AliyunSmsConfig | null;
  /** E.164 number (`+8613800000001`) → its fixed code; no SMS is sent to these. */
  smsTestNumbers: Map<string, string>;
  redisUrl: string | null;
  /** Prefix of every rate-limit key in Redis, so that several deployments can share one server. */
  redisKeyPrefix: string;
  rateLimitMultiplier: number;
  rateLimits: Record<RateLimitName, RateLimitRule>;
  graphql: GraphqlLimits;
  /** A registration lock lapses once the account has not been seen for this many days. */
  registrationLockDays: number;
  /** SMS_TEST_NUMBERS_IN_PRODUCTION: test numbers were allowed in production on purpose. */
  smsTestNumbersInProduction: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const MiB = 1024 * 1024;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string, fallback: string): string => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim())) {
      problems.push(`${name}: expected a whole number, got "${raw}"`);
      return fallback;
    }
    const n = Number(raw.trim());
    if (n < min || n > max) {
      problems.push(`${name}: must be between ${min} and ${max}, got ${n}`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const v = str(name, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${name}: must be one of ${allowed.join(', ')}, got "${v}"`);
      return fallback;
    }
    return v as T;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    problems.push(`${name}: expected true or false, got "${v}"`);
    return fallback;
  };

  const nodeEnv = str('NODE_ENV', 'development');
  const envKind: Config['env'] =
    nodeEnv === 'production' ? 'production' : nodeEnv === 'test' ? 'test' : 'development';
  const port = int('PORT', 4000, 0, 65535);
  const host = str('HOST', '127.0.0.1');
  const dataDir = path.resolve(str('DATA_DIR', './data'));

  // A wildcard address is where to listen, not where to be reached: point URLs at loopback.
  const reachableHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const publicUrlRaw = str('PUBLIC_URL', `http://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}`);
  let publicUrl = publicUrlRaw.replace(/\/+$/, '');
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
  } catch {
    problems.push(`PUBLIC_URL: expected an http(s) URL, got "${publicUrlRaw}"`);
    publicUrl = `http://${host}:${port}`;
  }

  const database = parseDatabaseUrl(str('DATABASE_URL', `sqlite:${path.join(dataDir, 'glimpse.sqlite')}`), problems);

  let s3: S3Config | null = null;
  const endpoint = env.S3_ENDPOINT;
  if (endpoint) {
    try {
      const u = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`);
      const useSSL = u.protocol === 'https:';
      s3 = {
        endPoint: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port ? Number(u.port) : useSSL ? 443 : 80,
        useSSL,
        accessKey: str('S3_ACCESS_KEY', 'minioadmin'),
        secretKey: str('S3_SECRET_KEY', 'minioadmin'),
        bucket: str('S3_BUCKET', 'glimpse-images'),
        region: str('S3_REGION', 'us-east-1'),
      };
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s3.bucket)) {
        problems.push(`S3_BUCKET: not a valid bucket name: "${s3.bucket}"`);
      }
    } catch {
      problems.push(`S3_ENDPOINT: expected a URL such as http://127.0.0.1:9000, got "${endpoint}"`);
    }
  }

  const pushProvider = oneOf('PUSH_PROVIDER', 'log', ['log', 'getui'] as const);
  let getui: GetuiConfig | null = null;
  const getuiTimeoutMs = int('GETUI_TIMEOUT_MS', 10_000, 100, 120_000);
  if (pushProvider === 'getui') {
    const missing = ['GETUI_APP_ID', 'GETUI_APP_KEY', 'GETUI_MASTER_SECRET'].filter((n) => !env[n]);
    for (const n of missing) problems.push(`${n}: required when PUSH_PROVIDER=getui`);
    getui = {
      appId: str('GETUI_APP_ID', ''),
      appKey: str('GETUI_APP_KEY', ''),
      masterSecret: str('GETUI_MASTER_SECRET', ''),
      baseUrl: str('GETUI_BASE_URL', 'https://restapi.getui.com/v2').replace(/\/+$/, ''),
      timeoutMs: getuiTimeoutMs,
    };
    if (!/^https?:\/\/[^/]/.test(getui.baseUrl)) problems.push(`GETUI_BASE_URL: expected an http(s) URL, got "${getui.baseUrl}"`);
  }
  const retryBaseMs = int('PUSH_RETRY_BASE_MS', 1000, 1, 3_600_000);
  const push: PushConfig = {
    pollMs: int('PUSH_POLL_MS', 1000, 10, 3_600_000),
    batchSize: int('PUSH_BATCH_SIZE', 10, 1, 100),
    maxAttempts: int('PUSH_MAX_ATTEMPTS', 16, 1, 1000),
    retryBaseMs,
    retryMaxMs: Math.max(retryBaseMs, int('PUSH_RETRY_MAX_MS', 900_000, 1, 24 * 3_600_000)),
    // One send may make up to four calls (auth, push, re-auth on 10001 or a host switch, push
    // again); the lease outlives them all, so a live sender never sees its job claimed twice.
    leaseMs: 5 * getuiTimeoutMs,
  };

  const smsProvider = oneOf('SMS_PROVIDER', 'log', ['log', 'aliyun'] as const);
  if (smsProvider === 'log' && envKind === 'production') {
    problems.push('SMS_PROVIDER: "log" writes verification codes to the log and is for development only; set SMS_PROVIDER=aliyun in production');
  }
  let aliyunSms: AliyunSmsConfig | null = null;
  if (smsProvider === 'aliyun') {
    const required = ['ALIYUN_ACCESS_KEY_ID', 'ALIYUN_ACCESS_KEY_SECRET', 'ALIYUN_SMS_SIGN_NAME', 'ALIYUN_SMS_TEMPLATE_CODE'];
    for (const n of required.filter((n) => !env[n])) problems.push(`${n}: required when SMS_PROVIDER=aliyun`);
    const endpointRaw = str('ALIYUN_SMS_ENDPOINT', 'https://dysmsapi.aliyuncs.com');
    let endpoint = 'dysmsapi.aliyuncs.com';
    let protocol: 'https' | 'http' = 'https';
    try {
      const u = new URL(endpointRaw.includes('://') ? endpointRaw : `https://${endpointRaw}`);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      endpoint = u.host;
      protocol = u.protocol === 'http:' ? 'http' : 'https';
    } catch {
      problems.push(`ALIYUN_SMS_ENDPOINT: expected a host or an http(s) URL such as https://dysmsapi.aliyuncs.com, got "${endpointRaw}"`);
    }
    aliyunSms = {
      accessKeyId: str('ALIYUN_ACCESS_KEY_ID', ''),
      accessKeySecret: str('ALIYUN_ACCESS_KEY_SECRET', ''),
      signName: str('ALIYUN_SMS_SIGN_NAME', ''),
      templateCode: str('ALIYUN_SMS_TEMPLATE_CODE', ''),
      templateParam: str('ALIYUN_SMS_TEMPLATE_PARAM', 'code'),
      endpoint,
      protocol,
      timeoutMs: int('ALIYUN_SMS_TIMEOUT_MS', 5000, 100, 60_000),
    };
  }

  const smsTestNumbers = new Map<string, string>();
  for (const entry of str('SMS_TEST_NUMBERS', '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const [numberRaw = '', code = ''] = entry.split('=');
    const number = numberRaw.trim().startsWith('+') ? parseE164(numberRaw.trim()) : null;
    if (!number || !/^\d{6}$/.test(code.trim())) {
      problems.push(`SMS_TEST_NUMBERS: expected +<calling code><number>=<6 digits>, e.g. +8613800000001=123456; got "${numberRaw.trim()}=…"`);
      continue;
    }
    smsTestNumbers.set(number, code.trim());
  }

  const redisUrlRaw = str('REDIS_URL', '');
  let redisUrl: string | null = null;
  if (redisUrlRaw) {
    try {
      const u = new URL(redisUrlRaw);
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('protocol');
      redisUrl = redisUrlRaw;
    } catch {
      problems.push(`REDIS_URL: expected redis://host:6379 (or rediss://), got "${redactUrl(redisUrlRaw)}"`);
    }
  }

  const multiplierRaw = str('RATE_LIMIT_MULTIPLIER', '1');
  let rateLimitMultiplier = Number(multiplierRaw);
  if (!/^\d+(\.\d+)?$/.test(multiplierRaw) || !(rateLimitMultiplier > 0) || rateLimitMultiplier > 1_000_000) {
    problems.push(`RATE_LIMIT_MULTIPLIER: expected a positive number up to 1000000, got "${multiplierRaw}"`);
    rateLimitMultiplier = 1;
  }
  const discoveryDailyLimit = int('DISCOVERY_DAILY_LIMIT', RATE_LIMIT_DEFAULTS.discovery.points, 1);
  const rateLimits = {} as Record<RateLimitName, RateLimitRule>;
  for (const name of RATE_LIMIT_NAMES) {
    const d = RATE_LIMIT_DEFAULTS[name];
    const rule = name === 'discovery' ? { points: discoveryDailyLimit, durationSeconds: d.durationSeconds } : rateRule(d.env, env[d.env], d, problems);
    rateLimits[name] = { points: Math.max(1, Math.round(rule.points * rateLimitMultiplier)), durationSeconds: rule.durationSeconds };
  }

  // Master keys, encryption at rest and how long ended messages are kept (deletion that holds up
  // to an auditor). A refused key is never echoed: it is a secret.
  const masterKey = (name: string): Buffer | null => {
    const raw = str(name, '');
    if (!raw) return null;
    const key = Buffer.from(raw, 'base64');
    if (/^[A-Za-z0-9+/]{43}=$/.test(raw) && key.length === 32) return key;
    problems.push(`${name}: expected 32 random bytes in base64 (44 characters; \`openssl rand -base64 32\`)`);
    return null;
  };
  const encryptionKey = masterKey('ENCRYPTION_KEY');
  const encryptionKeyPrevious = masterKey('ENCRYPTION_KEY_PREVIOUS');
  const encryptionKeyFileRaw = str('ENCRYPTION_KEY_FILE', '');
  const encryptionKeyFile = encryptionKeyFileRaw ? path.resolve(encryptionKeyFileRaw) : null;
  if (env.ENCRYPTION_KEY && encryptionKeyFile) problems.push('ENCRYPTION_KEY and ENCRYPTION_KEY_FILE: set one of them, not both');
  if (encryptionKey && encryptionKeyPrevious?.equals(encryptionKey)) problems.push('ENCRYPTION_KEY_PREVIOUS: is the same key as ENCRYPTION_KEY; it must be the key used before the rotation');
  const encryptUploads = oneOf('ENCRYPTION', 'on', ['on', 'off'] as const) === 'on';
  if (envKind === 'production') {
    if (!encryptUploads) problems.push('ENCRYPTION: "off" stores images unencrypted and exists only for the benchmark\'s comparison; it is refused in production');
    // A key generated beside the database is in every copy of DATA_DIR the database is in.
    if (!env.ENCRYPTION_KEY && !encryptionKeyFile) problems.push('ENCRYPTION_KEY or ENCRYPTION_KEY_FILE: required in production (a master key generated in DATA_DIR would be kept beside the database it protects)');
  }
  const messageRetentionDays = int('MESSAGE_RETENTION_DAYS', 30, 1, 3650);

  // Registration lock; test numbers in production (a number with a fixed code is a way into
  // its account for anyone who reads the configuration, so production takes them only on purpose).
  const registrationLockDays = int('REGISTRATION_LOCK_DAYS', 7, 1, 3650);
  const smsTestNumbersInProduction = bool('SMS_TEST_NUMBERS_IN_PRODUCTION', false);
  if (envKind === 'production' && smsTestNumbers.size > 0 && !smsTestNumbersInProduction) {
    problems.push(
      `SMS_TEST_NUMBERS: ${smsTestNumbers.size} test number(s) with fixed codes are refused in production; remove them, or set SMS_TEST_NUMBERS_IN_PRODUCTION=true if they are meant to be there (app-store review)`,
    );
  }

  const config: Config = {
    env: envKind,
    port,
    host,
    publicUrl,
    database,
    migrationsRun: bool('MIGRATIONS_RUN', true),
    s3,
    dataDir,
    pushProvider,
    getui,
    push,
    pushJobRetentionDays: int('PUSH_JOB_RETENTION_DAYS', 7, 1, 3650),
    maxImageBytes: int('MAX_IMAGE_BYTES', 20 * MiB, 1, 2 ** 31 - 1),
    imageTtlSeconds: int('IMAGE_TTL_SECONDS', 7 * 24 * 3600, 60),
    downloadUrlTtlSeconds: int('DOWNLOAD_URL_TTL_SECONDS', 300, 10, 3600),
    encryptionKey,
    encryptionKeyFile,
    encryptionKeyPrevious,
    messageRetentionDays,
    encryptUploads,
    autoConfirmSeconds: int('AUTO_CONFIRM_SECONDS', 300, 1, 7 * 86_400),
    sweepIntervalSeconds: int('SWEEP_INTERVAL_SECONDS', 60, 1, 86_400),
    orphanGcIntervalSeconds: int('ORPHAN_GC_INTERVAL_SECONDS', 3600, 1, 7 * 86_400),
    orphanGraceSeconds: int('ORPHAN_GRACE_SECONDS', 3600, 0, 7 * 86_400),
    backgroundJobs: bool('BACKGROUND_JOBS', true),
    introspection: bool('INTROSPECTION', envKind !== 'production'),
    discoveryDailyLimit: rateLimits.discovery.points,
    maxGroupMembers: int('MAX_GROUP_MEMBERS', 50, 2, 10_000),
    logLevel: oneOf('LOG_LEVEL', envKind === 'test' ? 'silent' : 'info', [
      'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent',
    ] as const),
    trustProxy: trustProxyOf(str('TRUST_PROXY', 'loopback'), problems),
    smsProvider,
    aliyunSms,
    smsTestNumbers,
    redisUrl,
    redisKeyPrefix: str('REDIS_KEY_PREFIX', 'glimpse:rl:'),
    rateLimitMultiplier,
    rateLimits,
    graphql: {
      maxDepth: int('GRAPHQL_MAX_DEPTH', 8, 1, 100),
      maxAliases: int('GRAPHQL_MAX_ALIASES', 15, 0, 1000),
      maxTokens: int('GRAPHQL_MAX_TOKENS', 1000, 10, 100_000),
      maxDirectives: int('GRAPHQL_MAX_DIRECTIVES', 10, 0, 1000),
      maxCost: int('GRAPHQL_MAX_COST', 1000, 10, 1_000_000),
    },
    registrationLockDays,
    smsTestNumbersInProduction,
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** `+8613800000001` (spaces and dashes allowed) → the canonical E.164 string, or null when not a valid number. */
function parseE164(raw: string): string | null {
  const digits = raw.replace(/[\s-]/g, '');
  for (let split = 1; split <= 3; split++) {
    try {
      const p = normalizePhone(digits.slice(1, 1 + split), digits.slice(1 + split));
      if (`+${p.regionNum}${p.phoneNum}` === digits) return digits;
    } catch {
      // not this split of calling code and national number
    }
  }
  return null;
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY as express reads it, checked: `false`, a hop count, or proxies by name, address or
 * range. `true` is refused: trusting every hop lets any client write the address that its
 * per-address rate limits count.
 */
function trustProxyOf(raw: string, problems: string[]): string {
  const value = raw.trim();
  if (/^true$/i.test(value)) {
    problems.push(
      'TRUST_PROXY: "true" trusts every hop, so any client could choose the address its rate limits count; set the number of proxies in front of the server (e.g. TRUST_PROXY=1) or their addresses (e.g. TRUST_PROXY=loopback,10.0.0.0/8)',
    );
    return 'loopback';
  }
  if (/^false$/i.test(value) || /^\d+$/.test(value)) return value;
  const bad = value.split(',').map((p) => p.trim()).filter((p) => !PROXY_NAMES.has(p) && !isAddressOrRange(p));
  if (bad.length || value === '') {
    problems.push(`TRUST_PROXY: expected a hop count, false, or proxies as loopback, linklocal, uniquelocal, addresses or ranges (10.0.0.0/8), got "${raw}"`);
    return 'loopback';
  }
  return value;
}

function isAddressOrRange(part: string): boolean {
  const [address, range, ...rest] = part.split('/');
  if (rest.length || !ipaddr.isValid(address)) return false;
  if (range === undefined) return true;
  const bits = ipaddr.parse(address).kind() === 'ipv4' ? 32 : 128;
  // A prefix length, or (IPv4) a netmask written out.
  return /^\d{1,3}$/.test(range) ? Number(range) <= bits : bits === 32 && ipaddr.IPv4.isValidFourPartDecimal(range);
}

const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** `points/window`, the window in seconds or with a unit: `5/3600`, `5/1h`, `1/60s`. */
function rateRule(name: string, raw: string | undefined, fallback: RateLimitRule, problems: string[]): RateLimitRule {
  if (raw === undefined || raw.trim() === '') return fallback;
  const m = /^(\d{1,9})\/(\d{1,9})([smhd]?)$/.exec(raw.trim());
  const rule = m ? { points: Number(m[1]), durationSeconds: Number(m[2]) * UNIT_SECONDS[m[3]] } : null;
  if (!rule || rule.points < 1 || rule.durationSeconds < 1 || rule.durationSeconds > 30 * 86400) {
    problems.push(`${name}: expected <actions>/<window>, e.g. 5/3600 or 5/1h (window up to 30d), got "${raw}"`);
    return fallback;
  }
  return rule;
}

function parseDatabaseUrl(raw: string, problems: string[]): DatabaseConfig {
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!file) problems.push('DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/glimpse.sqlite');
    return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(file || 'glimpse.sqlite') };
  }
  try {
    const u = new URL(raw);
    if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new Error('protocol');
    const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (!database) throw new Error('no database');
    if (u.protocol === 'mariadb:') u.protocol = 'mysql:';
    return { kind: 'mysql', url: u.toString(), database };
  } catch {
    problems.push(
      `DATABASE_URL: expected mysql://user:pass@host:3306/db or sqlite:<path>, got "${redactUrl(raw)}"`,
    );
    return { kind: 'sqlite', file: ':memory:' };
  }
}

/** Keeps a password out of error messages and logs. */
export function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}
