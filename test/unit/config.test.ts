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

  it('points the default PUBLIC_URL at loopback when listening on every interface', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '8080' }).publicUrl).to.equal('http://127.0.0.1:8080');
    expect(loadConfig({ HOST: '::' }).publicUrl).to.equal('http://[::1]:4000');
    expect(loadConfig({ HOST: '0.0.0.0', PUBLIC_URL: 'https://glimpse.example/' }).publicUrl).to.equal('https://glimpse.example');
  });

  it('turns introspection off in production unless INTROSPECTION says otherwise', () => {
    expect(loadConfig({}).introspection).to.equal(true);
    expect(loadConfig({ NODE_ENV: 'production' }).introspection).to.equal(false);
    expect(loadConfig({ NODE_ENV: 'production', INTROSPECTION: 'true' }).introspection).to.equal(true);
    expect(loadConfig({ INTROSPECTION: 'false' }).introspection).to.equal(false);
    expect(() => loadConfig({ INTROSPECTION: 'maybe' })).to.throw(ConfigError, 'INTROSPECTION');
  });
});
