import path from 'node:path';
import ipaddr from 'ipaddr.js';
import type { EnvReader } from './env-reader';

export interface GraphqlLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
}

/** Where the server listens, how it is reached, and what it tells and trusts. */
export interface ServerSection {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  logLevel: string;
  /** Express's `trust proxy`: which hops may tell the client's address in X-Forwarded-For. */
  trustProxy: string;
  /** Schema introspection and field suggestions in error messages; off in production unless asked for. */
  introspection: boolean;
  graphql: GraphqlLimits;
}

/** NODE_ENV, PORT, HOST, PUBLIC_URL, DATA_DIR, LOG_LEVEL, TRUST_PROXY, INTROSPECTION, GRAPHQL_*. */
export function serverConfig(r: EnvReader): ServerSection {
  const nodeEnv = r.str('NODE_ENV', 'development');
  const env: ServerSection['env'] = nodeEnv === 'production' ? 'production' : nodeEnv === 'test' ? 'test' : 'development';
  const port = r.int('PORT', 4000, 0, 65535);
  const host = r.str('HOST', '127.0.0.1');
  const dataDir = path.resolve(r.str('DATA_DIR', './data'));

  // A wildcard address is where to listen, not where to be reached: point URLs at loopback.
  const reachableHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const publicUrlRaw = r.str('PUBLIC_URL', `http://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}`);
  let publicUrl = publicUrlRaw.replace(/\/+$/, '');
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
  } catch {
    r.problem(`PUBLIC_URL: expected an http(s) URL, got "${publicUrlRaw}"`);
    publicUrl = `http://${host}:${port}`;
  }

  return {
    env,
    port,
    host,
    publicUrl,
    dataDir,
    introspection: r.bool('INTROSPECTION', env !== 'production'),
    logLevel: r.oneOf('LOG_LEVEL', env === 'test' ? 'silent' : 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ] as const),
    trustProxy: trustProxyOf(r, r.str('TRUST_PROXY', 'loopback')),
    graphql: {
      maxDepth: r.int('GRAPHQL_MAX_DEPTH', 8, 1, 100),
      maxAliases: r.int('GRAPHQL_MAX_ALIASES', 15, 0, 1000),
      maxTokens: r.int('GRAPHQL_MAX_TOKENS', 1000, 10, 100_000),
      maxDirectives: r.int('GRAPHQL_MAX_DIRECTIVES', 10, 0, 1000),
      maxCost: r.int('GRAPHQL_MAX_COST', 1000, 10, 1_000_000),
    },
  };
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY as express reads it, checked: `false`, a hop count, or proxies by name, address or
 * range. `true` is refused: trusting every hop lets any client write the address that its
 * per-address rate limits count.
 */
function trustProxyOf(r: EnvReader, raw: string): string {
  const value = raw.trim();
  if (/^true$/i.test(value)) {
    r.problem(
      'TRUST_PROXY: "true" trusts every hop, so any client could choose the address its rate limits count; set the number of proxies in front of the server (e.g. TRUST_PROXY=1) or their addresses (e.g. TRUST_PROXY=loopback,10.0.0.0/8)',
    );
    return 'loopback';
  }
  if (/^false$/i.test(value) || /^\d+$/.test(value)) return value;
  const bad = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => !PROXY_NAMES.has(p) && !isAddressOrRange(p));
  if (bad.length || value === '') {
    r.problem(
      `TRUST_PROXY: expected a hop count, false, or proxies as loopback, linklocal, uniquelocal, addresses or ranges (10.0.0.0/8), got "${raw}"`,
    );
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
