import { spawnSync } from 'node:child_process';

/**
 * Which outside servers the suite can reach, decided once when the test files load (mocha builds
 * its suites synchronously, so the probe is a short child process). Suites that need a missing
 * one are left out, with one line at the start saying what is missing and how to run them;
 * TEST_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing one into a failure instead.
 */
export const MYSQL_BASE_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function reachable(url: string, defaultPort: number): boolean {
  const { hostname, port } = new URL(url);
  const probe =
    `require('node:net').connect({host:${JSON.stringify(hostname)},port:${Number(port || defaultPort)}})` +
    `.on('connect',()=>process.exit(0)).on('error',()=>process.exit(1)).setTimeout(2000,()=>process.exit(1))`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
}

export const mysqlAvailable = reachable(MYSQL_BASE_URL, 3306);
export const redisAvailable = reachable(REDIS_URL, 6379);

const missing = [
  mysqlAvailable ? null : `MySQL/MariaDB at ${MYSQL_BASE_URL} (set TEST_MYSQL_URL=mysql://user:pass@host:3306)`,
  redisAvailable ? null : `Redis at ${REDIS_URL} (set TEST_REDIS_URL=redis://host:6379)`,
].filter((m): m is string => m !== null);

if (missing.length) {
  if (process.env.TEST_REQUIRE_SERVICES === '1') {
    throw new Error(`TEST_REQUIRE_SERVICES=1 but these cannot be reached: ${missing.join('; ')}`);
  }
  process.stderr.write(`\n  Not reachable, so the suites that need them are left out: ${missing.join('; ')}.\n\n`);
}

/** In a mocha `before`: skips the suite when MySQL cannot be reached (the line above said so). */
export function needsMysql(ctx: Mocha.Context): void {
  if (!mysqlAvailable) ctx.skip();
}

export function needsRedis(ctx: Mocha.Context): void {
  if (!redisAvailable) ctx.skip();
}
