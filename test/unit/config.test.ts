import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config';

describe('config (unit)', () => {
  it('runs on embedded defaults with nothing set', () => {
    const c = loadConfig({});
    expect(c).to.include({ port: 4000, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:4000', pushProvider: 'log', maxImageBytes: 20 * 1024 * 1024, env: 'development' });
    expect(c.database.kind).to.equal('sqlite');
    expect(c.s3).to.equal(null);
  });

  it('names every bad variable in one error', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', MAX_IMAGE_BYTES: 'abc', DATABASE_URL: 'postgres://x/y', PUSH_PROVIDER: 'apns', S3_ENDPOINT: '::::' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).to.be.instanceOf(ConfigError);
    for (const name of ['PORT', 'MAX_IMAGE_BYTES', 'DATABASE_URL', 'PUSH_PROVIDER', 'S3_ENDPOINT']) expect(err!.message).to.contain(name);
  });

  it('never repeats a database password in its message', () => {
    expect(() => loadConfig({ DATABASE_URL: 'pg://user:secret@host/db' })).to.throw(ConfigError).with.property('message').that.does.not.contain('secret');
  });

  it('reads MySQL and S3 settings', () => {
    const c = loadConfig({ DATABASE_URL: 'mysql://u:p@db:3306/glimpse', S3_ENDPOINT: 'http://minio:9000', S3_BUCKET: 'pics' });
    expect(c.database).to.deep.equal({ kind: 'mysql', url: 'mysql://u:p@db:3306/glimpse', database: 'glimpse' });
    expect(c.s3).to.include({ endPoint: 'minio', port: 9000, useSSL: false, bucket: 'pics', region: 'us-east-1' });
  });

  it('reads the social graph limits, scaling the discovery budget by RATE_LIMIT_MULTIPLIER', () => {
    expect(loadConfig({})).to.include({ discoveryDailyLimit: 10_000, maxGroupMembers: 50, rateLimitMultiplier: 1 });
    expect(loadConfig({ DISCOVERY_DAILY_LIMIT: '2000', RATE_LIMIT_MULTIPLIER: '2.5', MAX_GROUP_MEMBERS: '8' })).to.include({ discoveryDailyLimit: 5000, maxGroupMembers: 8 });
    expect(() => loadConfig({ DISCOVERY_DAILY_LIMIT: '0', RATE_LIMIT_MULTIPLIER: '-1', MAX_GROUP_MEMBERS: 'many' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.contains('DISCOVERY_DAILY_LIMIT')
      .and.contains('RATE_LIMIT_MULTIPLIER')
      .and.contains('MAX_GROUP_MEMBERS');
  });
});
