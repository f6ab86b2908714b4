import { expect } from 'chai';
import { FlexibleRateLimiter } from '../../src/adapters/flexible.rate-limiter';
import { RATE_LIMIT_DEFAULTS, RateLimitName, RateLimitRule } from '../../src/config';
import { createLogger } from '../../src/logger';

// No type package for better-sqlite3 here: the little used is typed in place.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Database = require('better-sqlite3') as new (file: string) => {
  exec(sql: string): void;
  prepare(sql: string): { all(): unknown[] };
  close(): void;
};

const rules = (over: Partial<Record<RateLimitName, RateLimitRule>>) =>
  Object.fromEntries(
    Object.entries(RATE_LIMIT_DEFAULTS).map(([name, d]) => [
      name,
      over[name as RateLimitName] ?? { points: d.points, durationSeconds: d.durationSeconds },
    ]),
  ) as Record<RateLimitName, RateLimitRule>;

describe('FlexibleRateLimiter (unit)', () => {
  const log = createLogger('silent');

  it('spends from every budget of a call, or from none when one is spent', async () => {
    const limiter = new FlexibleRateLimiter(
      rules({ codeResend: { points: 1, durationSeconds: 60 }, codeIp: { points: 3, durationSeconds: 3600 } }),
      { kind: 'memory' },
      log,
    );
    expect(
      await limiter.consume([
        { rule: 'codeResend', key: 'phone-a' },
        { rule: 'codeIp', key: 'ip' },
      ]),
    ).to.deep.include({ allowed: true });
    const refused = await limiter.consume([
      { rule: 'codeResend', key: 'phone-a' },
      { rule: 'codeIp', key: 'ip' },
    ]);
    expect(refused.allowed).to.equal(false);
    expect((refused as { retryAfterMs: number }).retryAfterMs).to.be.within(59_000, 60_000);
    // The refused call gave back its point on the address: two more numbers still pass from it.
    expect(
      (
        await limiter.consume([
          { rule: 'codeResend', key: 'phone-b' },
          { rule: 'codeIp', key: 'ip' },
        ])
      ).allowed,
    ).to.equal(true);
    expect(
      (
        await limiter.consume([
          { rule: 'codeResend', key: 'phone-c' },
          { rule: 'codeIp', key: 'ip' },
        ])
      ).allowed,
    ).to.equal(true);
    expect(
      (
        await limiter.consume([
          { rule: 'codeResend', key: 'phone-d' },
          { rule: 'codeIp', key: 'ip' },
        ])
      ).allowed,
    ).to.equal(false);
    await limiter.close();
  });

  it('says when the same call would pass again once a budget is used up', async () => {
    const limiter = new FlexibleRateLimiter(
      rules({ codeResend: { points: 1, durationSeconds: 60 }, codePhone: { points: 5, durationSeconds: 3600 } }),
      { kind: 'memory' },
      log,
    );
    const ok = await limiter.consume([
      { rule: 'codeResend', key: 'p' },
      { rule: 'codePhone', key: 'p' },
    ]);
    expect(ok.allowed).to.equal(true);
    expect((ok as { nextInMs: number }).nextInMs).to.be.within(59_000, 60_000);
    await limiter.close();
  });

  it('keeps its counters in the database table, keyed by a digest of the key', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE rate_limit (key varchar(255) PRIMARY KEY, points int NOT NULL DEFAULT 0, expire bigint)');
    const limiter = new FlexibleRateLimiter(
      rules({ registerIp: { points: 2, durationSeconds: 3600 } }),
      { kind: 'sqlite', connection: db },
      log,
    );
    for (let i = 0; i < 2; i++) expect((await limiter.consume([{ rule: 'registerIp', key: '203.0.113.9' }])).allowed).to.equal(true);
    expect((await limiter.consume([{ rule: 'registerIp', key: '203.0.113.9' }])).allowed).to.equal(false);
    const rows = db.prepare('SELECT key, points FROM rate_limit').all() as { key: string; points: number }[];
    expect(rows).to.have.length(1);
    expect(rows[0].points).to.equal(2);
    expect(rows[0].key).to.match(/^registerIp:[A-Za-z0-9_-]{32}$/);
    await limiter.close();
    db.close();
  });
});
