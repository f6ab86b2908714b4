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

  it('reads the GeTui and push settings, and names every bad one', () => {
    const c = loadConfig({ PUSH_PROVIDER: 'getui', GETUI_APP_ID: 'a', GETUI_APP_KEY: 'k', GETUI_MASTER_SECRET: 's', GETUI_TIMEOUT_MS: '3000', PUSH_MAX_ATTEMPTS: '5' });
    expect(c.getui).to.deep.equal({ appId: 'a', appKey: 'k', masterSecret: 's', baseUrl: 'https://restapi.getui.com/v2', timeoutMs: 3000 });
    expect(c.push).to.deep.equal({ pollMs: 1000, batchSize: 10, maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 900_000, leaseMs: 15_000 });
    expect(loadConfig({}).push.leaseMs).to.equal(50_000);
    let err: ConfigError | undefined;
    try {
      loadConfig({ PUSH_PROVIDER: 'getui', GETUI_APP_ID: 'a', GETUI_BASE_URL: 'restapi', PUSH_POLL_MS: '0', PUSH_BATCH_SIZE: 'many' });
    } catch (e) {
      err = e as ConfigError;
    }
    for (const name of ['GETUI_APP_KEY', 'GETUI_MASTER_SECRET', 'GETUI_BASE_URL', 'PUSH_POLL_MS', 'PUSH_BATCH_SIZE']) expect(err!.message).to.contain(name);
    expect(err!.message).not.to.contain('GETUI_APP_ID');
  });
});
