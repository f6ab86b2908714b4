import path from 'node:path';

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
  maxImageBytes: number;
  imageTtlSeconds: number;
  downloadUrlTtlSeconds: number;
  /** How often each instance ends expired images and deletes their blobs. */
  sweepIntervalSeconds: number;
  /** How often each instance looks for blobs with no row and rows with no blob. */
  orphanGcIntervalSeconds: number;
  /** A blob with no row is deleted only when older than this. */
  orphanGraceSeconds: number;
  /** Background tasks (sweeper, orphan collector) run in this process. */
  backgroundJobs: boolean;
  /** Multiplies every rate limit at once (load tests and benchmarks raise it). */
  rateLimitMultiplier: number;
  /** Phone hashes one user may submit to discovery per day, after the multiplier. */
  discoveryDailyLimit: number;
  /** Most members a group may have, its owner included. */
  maxGroupMembers: number;
  logLevel: string;
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
  const positive = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw.trim());
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(n > 0)) {
      problems.push(`${name}: expected a positive number, got "${raw}"`);
      return fallback;
    }
    return n;
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

  const publicUrlRaw = str('PUBLIC_URL', `http://${host.includes(':') ? `[${host}]` : host}:${port}`);
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
  if (pushProvider === 'getui') {
    const missing = ['GETUI_APP_ID', 'GETUI_APP_KEY', 'GETUI_MASTER_SECRET'].filter((n) => !env[n]);
    for (const n of missing) problems.push(`${n}: required when PUSH_PROVIDER=getui`);
    getui = {
      appId: str('GETUI_APP_ID', ''),
      appKey: str('GETUI_APP_KEY', ''),
      masterSecret: str('GETUI_MASTER_SECRET', ''),
      baseUrl: str('GETUI_BASE_URL', 'https://restapi.getui.com/v2').replace(/\/+$/, ''),
    };
  }

  const rateLimitMultiplier = positive('RATE_LIMIT_MULTIPLIER', 1);
  const discoveryDailyLimit = int('DISCOVERY_DAILY_LIMIT', 10_000, 1);

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
    maxImageBytes: int('MAX_IMAGE_BYTES', 20 * MiB, 1, 2 ** 31 - 1),
    imageTtlSeconds: int('IMAGE_TTL_SECONDS', 7 * 24 * 3600, 60),
    downloadUrlTtlSeconds: int('DOWNLOAD_URL_TTL_SECONDS', 300, 10, 3600),
    sweepIntervalSeconds: int('SWEEP_INTERVAL_SECONDS', 60, 1, 86_400),
    orphanGcIntervalSeconds: int('ORPHAN_GC_INTERVAL_SECONDS', 3600, 1, 7 * 86_400),
    orphanGraceSeconds: int('ORPHAN_GRACE_SECONDS', 3600, 0, 7 * 86_400),
    backgroundJobs: bool('BACKGROUND_JOBS', true),
    rateLimitMultiplier,
    discoveryDailyLimit: Math.max(1, Math.floor(discoveryDailyLimit * rateLimitMultiplier)),
    maxGroupMembers: int('MAX_GROUP_MEMBERS', 50, 2, 10_000),
    logLevel: oneOf('LOG_LEVEL', envKind === 'test' ? 'silent' : 'info', [
      'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent',
    ] as const),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
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
  return raw.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
