import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config';

/** What production needs besides the master key: an SMS provider that sends SMS. */
const PRODUCTION = {
  NODE_ENV: 'production',
  SMS_PROVIDER: 'aliyun',
  ALIYUN_ACCESS_KEY_ID: 'i',
  ALIYUN_ACCESS_KEY_SECRET: 's',
  ALIYUN_SMS_SIGN_NAME: 'n',
  ALIYUN_SMS_TEMPLATE_CODE: 't',
};

describe('config (unit)', () => {
  it('runs on embedded defaults with nothing set', () => {
    const c = loadConfig({});
    expect(c).to.include({
      port: 4000,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:4000',
      pushProvider: 'log',
      maxImageBytes: 20 * 1024 * 1024,
      env: 'development',
    });
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

  it('reads ENCRYPTION_KEY (32 bytes, base64) and never repeats a refused one', () => {
    const key = Buffer.alloc(32, 9).toString('base64');
    expect(loadConfig({ ENCRYPTION_KEY: key }).encryptionKey!.equals(Buffer.alloc(32, 9))).to.equal(true);
    expect(loadConfig({}).encryptionKey).to.equal(null);
    expect(loadConfig({}).encryptUploads).to.equal(true);
    expect(loadConfig({ ENCRYPTION: 'off' }).encryptUploads).to.equal(false);
    for (const bad of [Buffer.alloc(16, 1).toString('base64'), 'not-a-key-at-all-but-quite-long-000000000000']) {
      expect(() => loadConfig({ ENCRYPTION_KEY: bad }))
        .to.throw(ConfigError)
        .with.property('message')
        .that.contains('ENCRYPTION_KEY')
        .and.does.not.contain(bad);
    }
    expect(() => loadConfig({ AUTO_CONFIRM_SECONDS: '0' })).to.throw(ConfigError, /AUTO_CONFIRM_SECONDS/);
  });

  it('never repeats a database password in its message', () => {
    expect(() => loadConfig({ DATABASE_URL: 'pg://user:secret@host/db' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.does.not.contain('secret');
  });

  it('reads MySQL and S3 settings', () => {
    const c = loadConfig({ DATABASE_URL: 'mysql://u:p@db:3306/glimpse', S3_ENDPOINT: 'http://minio:9000', S3_BUCKET: 'pics' });
    expect(c.database).to.deep.equal({ kind: 'mysql', url: 'mysql://u:p@db:3306/glimpse', database: 'glimpse' });
    expect(c.s3).to.include({ endPoint: 'minio', port: 9000, useSSL: false, bucket: 'pics', region: 'us-east-1' });
  });

  it('reads the GeTui and push settings, and names every bad one', () => {
    const c = loadConfig({
      PUSH_PROVIDER: 'getui',
      GETUI_APP_ID: 'a',
      GETUI_APP_KEY: 'k',
      GETUI_MASTER_SECRET: 's',
      GETUI_TIMEOUT_MS: '3000',
      PUSH_MAX_ATTEMPTS: '5',
    });
    expect(c.getui).to.deep.equal({ appId: 'a', appKey: 'k', masterSecret: 's', baseUrl: 'https://restapi.getui.com/v2', timeoutMs: 3000 });
    expect(c.push).to.deep.equal({ pollMs: 1000, batchSize: 10, maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 900_000, leaseMs: 15_000 });
    expect(loadConfig({}).push.leaseMs).to.equal(50_000);
    let err: ConfigError | undefined;
    try {
      loadConfig({ PUSH_PROVIDER: 'getui', GETUI_APP_ID: 'a', GETUI_BASE_URL: 'restapi', PUSH_POLL_MS: '0', PUSH_BATCH_SIZE: 'many' });
    } catch (e) {
      err = e as ConfigError;
    }
    for (const name of ['GETUI_APP_KEY', 'GETUI_MASTER_SECRET', 'GETUI_BASE_URL', 'PUSH_POLL_MS', 'PUSH_BATCH_SIZE'])
      expect(err!.message).to.contain(name);
    expect(err!.message).not.to.contain('GETUI_APP_ID');
  });

  it('has the documented rate limits, each configurable and all scaled by RATE_LIMIT_MULTIPLIER', () => {
    const c = loadConfig({});
    expect(c.rateLimits).to.deep.equal({
      codeResend: { points: 1, durationSeconds: 60 },
      codePhone: { points: 5, durationSeconds: 3600 },
      codeIp: { points: 20, durationSeconds: 3600 },
      codePrefix: { points: 10, durationSeconds: 3600 },
      registerPhone: { points: 10, durationSeconds: 3600 },
      registerIp: { points: 30, durationSeconds: 3600 },
      sendUser: { points: 200, durationSeconds: 3600 },
      discovery: { points: 10_000, durationSeconds: 86_400 },
      registrationLockPin: { points: 5, durationSeconds: 86_400 },
      registrationLockSet: { points: 10, durationSeconds: 3600 },
      friendRequest: { points: 50, durationSeconds: 86_400 },
      friendRequestPush: { points: 1, durationSeconds: 86_400 },
      block: { points: 100, durationSeconds: 86_400 },
      groupCreate: { points: 20, durationSeconds: 86_400 },
      groupMemberAdd: { points: 200, durationSeconds: 86_400 },
      updateCid: { points: 10, durationSeconds: 3600 },
      changeNumber: { points: 5, durationSeconds: 86_400 },
      exportData: { points: 1, durationSeconds: 3600 },
    });
    const scaled = loadConfig({ RATE_LIMIT_MULTIPLIER: '100', RATE_LIMIT_CODE_IP: '50/1d', RATE_LIMIT_SEND_USER: '10/90s' });
    expect(scaled.rateLimits.exportData).to.deep.equal({ points: 100, durationSeconds: 3600 });
    expect(loadConfig({ RATE_LIMIT_EXPORT: '2/1d' }).rateLimits.exportData).to.deep.equal({ points: 2, durationSeconds: 86_400 });
    expect(scaled.rateLimits.codeResend).to.deep.equal({ points: 100, durationSeconds: 60 });
    expect(scaled.rateLimits.codeIp).to.deep.equal({ points: 5000, durationSeconds: 86400 });
    expect(scaled.rateLimits.sendUser).to.deep.equal({ points: 1000, durationSeconds: 90 });
    expect(loadConfig({ RATE_LIMIT_MULTIPLIER: '0.5' }).rateLimits.codePhone.points).to.equal(3);
  });

  it('names bad limits, SMS settings and test numbers', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig({
        RATE_LIMIT_MULTIPLIER: '0',
        RATE_LIMIT_CODE_PHONE: 'five',
        SMS_PROVIDER: 'aliyun',
        SMS_TEST_NUMBERS: '+8613800000001=12345,13800000002=123456',
        REDIS_URL: 'http://user:hunter2@x',
        GRAPHQL_MAX_DEPTH: '0',
      });
    } catch (e) {
      err = e as ConfigError;
    }
    for (const name of [
      'RATE_LIMIT_MULTIPLIER',
      'RATE_LIMIT_CODE_PHONE',
      'ALIYUN_ACCESS_KEY_ID',
      'ALIYUN_ACCESS_KEY_SECRET',
      'ALIYUN_SMS_SIGN_NAME',
      'ALIYUN_SMS_TEMPLATE_CODE',
      'SMS_TEST_NUMBERS',
      'REDIS_URL',
      'GRAPHQL_MAX_DEPTH',
    ]) {
      expect(err?.message).to.contain(name);
    }
    expect(err?.message).not.to.contain('hunter2');
    expect(err?.problems.filter((p) => p.startsWith('SMS_TEST_NUMBERS'))).to.have.length(2);
  });

  it('reads SMS test numbers in E.164, and the Aliyun endpoint as a URL or a host', () => {
    const c = loadConfig({
      SMS_TEST_NUMBERS: '+8613800000001=123456, +44 7911 123456=654321',
      SMS_PROVIDER: 'aliyun',
      ALIYUN_ACCESS_KEY_ID: 'id',
      ALIYUN_ACCESS_KEY_SECRET: 'secret',
      ALIYUN_SMS_SIGN_NAME: 'Glimpse',
      ALIYUN_SMS_TEMPLATE_CODE: 'SMS_1',
      ALIYUN_SMS_ENDPOINT: 'http://127.0.0.1:8080',
    });
    expect([...c.smsTestNumbers]).to.deep.equal([
      ['+8613800000001', '123456'],
      ['+447911123456', '654321'],
    ]);
    expect(c.aliyunSms).to.include({ endpoint: '127.0.0.1:8080', protocol: 'http', timeoutMs: 5000, templateParam: 'code' });
    expect(
      loadConfig({
        ...{
          SMS_PROVIDER: 'aliyun',
          ALIYUN_ACCESS_KEY_ID: 'i',
          ALIYUN_ACCESS_KEY_SECRET: 's',
          ALIYUN_SMS_SIGN_NAME: 'n',
          ALIYUN_SMS_TEMPLATE_CODE: 't',
        },
      }).aliyunSms,
    ).to.include({
      endpoint: 'dysmsapi.aliyuncs.com',
      protocol: 'https',
    });
  });

  it('refuses SMS_TEST_NUMBERS in production unless SMS_TEST_NUMBERS_IN_PRODUCTION=true', () => {
    const production = { ...PRODUCTION, ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') };
    const numbers = { SMS_TEST_NUMBERS: '+8613800000001=123456,+8613800000002=654321' };
    expect(loadConfig(production).smsTestNumbersInProduction).to.equal(false);
    let err: ConfigError | undefined;
    try {
      loadConfig({ ...production, ...numbers });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).to.be.instanceOf(ConfigError);
    expect(err!.problems).to.have.length(1);
    expect(err!.problems[0])
      .to.match(/^SMS_TEST_NUMBERS: 2 test number/)
      .and.to.contain('SMS_TEST_NUMBERS_IN_PRODUCTION=true');
    expect(err!.message).not.to.contain('123456');
    expect(() => loadConfig({ ...production, ...numbers, SMS_TEST_NUMBERS_IN_PRODUCTION: 'false' })).to.throw(
      ConfigError,
      /SMS_TEST_NUMBERS/,
    );
    const allowed = loadConfig({ ...production, ...numbers, SMS_TEST_NUMBERS_IN_PRODUCTION: 'true' });
    expect(allowed.smsTestNumbers.size).to.equal(2);
    expect(allowed.smsTestNumbersInProduction).to.equal(true);
    // Outside production they need no opt-in.
    expect(loadConfig(numbers).smsTestNumbers.size).to.equal(2);
    expect(() => loadConfig({ ...production, SMS_TEST_NUMBERS_IN_PRODUCTION: 'maybe' })).to.throw(
      ConfigError,
      /SMS_TEST_NUMBERS_IN_PRODUCTION/,
    );
  });

  it('lets a registration lock lapse after 7 days unseen unless REGISTRATION_LOCK_DAYS says otherwise (1 to 3650)', () => {
    expect(loadConfig({}).registrationLockDays).to.equal(7);
    expect(loadConfig({ REGISTRATION_LOCK_DAYS: '30' }).registrationLockDays).to.equal(30);
    for (const bad of ['0', '3651', '1.5', 'week'])
      expect(() => loadConfig({ REGISTRATION_LOCK_DAYS: bad }), bad).to.throw(ConfigError, /REGISTRATION_LOCK_DAYS/);
    expect(
      loadConfig({ RATE_LIMIT_REGISTRATION_LOCK_PIN: '3/1d', RATE_LIMIT_MULTIPLIER: '2' }).rateLimits.registrationLockPin,
    ).to.deep.equal({ points: 6, durationSeconds: 86_400 });
  });

  it('refuses the log SMS provider in production: it would write codes to the log', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(ConfigError, /SMS_PROVIDER/);
  });

  it('points the default PUBLIC_URL at loopback when listening on every interface', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '8080' }).publicUrl).to.equal('http://127.0.0.1:8080');
    expect(loadConfig({ HOST: '::' }).publicUrl).to.equal('http://[::1]:4000');
    expect(loadConfig({ HOST: '0.0.0.0', PUBLIC_URL: 'https://glimpse.example/' }).publicUrl).to.equal('https://glimpse.example');
  });

  it('turns introspection off in production unless INTROSPECTION says otherwise', () => {
    expect(loadConfig({}).introspection).to.equal(true);
    const production = { ...PRODUCTION, ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') };
    expect(loadConfig(production).introspection).to.equal(false);
    expect(loadConfig({ ...production, INTROSPECTION: 'true' }).introspection).to.equal(true);
    expect(loadConfig({ INTROSPECTION: 'false' }).introspection).to.equal(false);
    expect(() => loadConfig({ INTROSPECTION: 'maybe' })).to.throw(ConfigError, 'INTROSPECTION');
  });

  it('reads the social graph limits, scaling the discovery budget by RATE_LIMIT_MULTIPLIER', () => {
    expect(loadConfig({})).to.include({ discoveryDailyLimit: 10_000, maxGroupMembers: 50, rateLimitMultiplier: 1 });
    expect(loadConfig({ DISCOVERY_DAILY_LIMIT: '2000', RATE_LIMIT_MULTIPLIER: '2.5', MAX_GROUP_MEMBERS: '8' })).to.include({
      discoveryDailyLimit: 5000,
      maxGroupMembers: 8,
    });
    expect(() => loadConfig({ DISCOVERY_DAILY_LIMIT: '0', RATE_LIMIT_MULTIPLIER: '-1', MAX_GROUP_MEMBERS: 'many' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.contains('DISCOVERY_DAILY_LIMIT')
      .and.contains('RATE_LIMIT_MULTIPLIER')
      .and.contains('MAX_GROUP_MEMBERS');
  });

  it('reads the per-user limits on writes and pushes as RATE_LIMIT_<NAME>, scaled by RATE_LIMIT_MULTIPLIER', () => {
    const c = loadConfig({
      RATE_LIMIT_FRIEND_REQUEST: '5/1h',
      RATE_LIMIT_FRIEND_REQUEST_PUSH: '2/2d',
      RATE_LIMIT_BLOCK: '7/60',
      RATE_LIMIT_GROUP_CREATE: '1/1d',
      RATE_LIMIT_GROUP_MEMBER_ADD: '9/1d',
      RATE_LIMIT_UPDATE_CID: '3/1m',
      RATE_LIMIT_MULTIPLIER: '2',
    });
    expect(c.rateLimits).to.deep.include({
      friendRequest: { points: 10, durationSeconds: 3600 },
      friendRequestPush: { points: 4, durationSeconds: 172_800 },
      block: { points: 14, durationSeconds: 60 },
      groupCreate: { points: 2, durationSeconds: 86_400 },
      groupMemberAdd: { points: 18, durationSeconds: 86_400 },
      updateCid: { points: 6, durationSeconds: 60 },
    });
    expect(() => loadConfig({ RATE_LIMIT_FRIEND_REQUEST: 'many', RATE_LIMIT_UPDATE_CID: '0/1h' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.contains('RATE_LIMIT_FRIEND_REQUEST')
      .and.contains('RATE_LIMIT_UPDATE_CID');
  });

  it('refuses TRUST_PROXY=true, saying to name a hop count or the proxies instead', () => {
    for (const trusting of ['true', 'TRUE', ' true ']) {
      expect(() => loadConfig({ TRUST_PROXY: trusting }))
        .to.throw(ConfigError)
        .with.property('message')
        .that.contains('TRUST_PROXY')
        .and.contains('TRUST_PROXY=1')
        .and.contains('loopback,10.0.0.0/8');
    }
    for (const ok of ['loopback', '1', '2', 'false', 'loopback, 10.0.0.0/8', '192.0.2.7', 'fd00::/8,uniquelocal', '10.0.0.0/255.0.0.0']) {
      expect(loadConfig({ TRUST_PROXY: ok }).trustProxy, ok).to.equal(ok.trim());
    }
    for (const bad of ['*', 'everyone', '10.0.0.0/33', 'loopback,', 'a.b.c.d'])
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).to.throw(ConfigError, /TRUST_PROXY/);
    expect(loadConfig({}).trustProxy).to.equal('loopback');
  });

  it('keeps finished push jobs 7 days unless PUSH_JOB_RETENTION_DAYS says otherwise (whole days, at least 1)', () => {
    expect(loadConfig({}).pushJobRetentionDays).to.equal(7);
    expect(loadConfig({ PUSH_JOB_RETENTION_DAYS: '30' }).pushJobRetentionDays).to.equal(30);
    for (const bad of ['0', '1.5', 'week'])
      expect(() => loadConfig({ PUSH_JOB_RETENTION_DAYS: bad })).to.throw(ConfigError, /PUSH_JOB_RETENTION_DAYS/);
  });

  it('refuses ENCRYPTION=off in production, and a production start with no master key of its own (none generated in DATA_DIR)', () => {
    const key = Buffer.alloc(32, 4).toString('base64');
    expect(loadConfig({ ...PRODUCTION, ENCRYPTION_KEY: key }).encryptUploads).to.equal(true);
    expect(() => loadConfig({ ...PRODUCTION, ENCRYPTION_KEY: key, ENCRYPTION: 'off' })).to.throw(
      ConfigError,
      /ENCRYPTION: "off" .* refused in production/,
    );
    const none = () => loadConfig(PRODUCTION);
    expect(none).to.throw(ConfigError, /ENCRYPTION_KEY or ENCRYPTION_KEY_FILE: required in production/);
    // Outside production both still work: the benchmark's baseline and the zero-setup start.
    expect(loadConfig({ ENCRYPTION: 'off' }).encryptUploads).to.equal(false);
    expect(loadConfig({}).encryptionKey).to.equal(null);
  });

  it('reads ENCRYPTION_KEY_FILE (the path; the server reads the file) and ENCRYPTION_KEY_PREVIOUS, and names what is wrong', () => {
    const key = Buffer.alloc(32, 5).toString('base64');
    const previous = Buffer.alloc(32, 6).toString('base64');
    const c = loadConfig({ ...PRODUCTION, ENCRYPTION_KEY_FILE: '/run/secrets/glimpse_encryption_key', ENCRYPTION_KEY_PREVIOUS: previous });
    expect(c).to.include({ encryptionKey: null, encryptionKeyFile: '/run/secrets/glimpse_encryption_key' });
    expect(c.encryptionKeyPrevious!.equals(Buffer.alloc(32, 6))).to.equal(true);
    expect(loadConfig({}).encryptionKeyPrevious).to.equal(null);
    expect(() => loadConfig({ ENCRYPTION_KEY: key, ENCRYPTION_KEY_FILE: '/k' })).to.throw(ConfigError, /set one of them, not both/);
    expect(() => loadConfig({ ENCRYPTION_KEY: key, ENCRYPTION_KEY_PREVIOUS: key })).to.throw(
      ConfigError,
      /ENCRYPTION_KEY_PREVIOUS: is the same key/,
    );
    expect(() => loadConfig({ ENCRYPTION_KEY_PREVIOUS: 'short' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.contains('ENCRYPTION_KEY_PREVIOUS')
      .and.does.not.contain('short');
  });

  it('keeps ended messages 30 days unless MESSAGE_RETENTION_DAYS says otherwise (whole days, at least 1)', () => {
    expect(loadConfig({}).messageRetentionDays).to.equal(30);
    expect(loadConfig({ MESSAGE_RETENTION_DAYS: '7' }).messageRetentionDays).to.equal(7);
    for (const bad of ['0', '2.5', 'month'])
      expect(() => loadConfig({ MESSAGE_RETENTION_DAYS: bad })).to.throw(ConfigError, /MESSAGE_RETENTION_DAYS/);
  });

  it('serves metrics on 9464 in production only, on METRICS_PORT when set, never on PORT; 0 turns them off', () => {
    const production = { ...PRODUCTION, ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') };
    expect(loadConfig(production).metricsPort).to.equal(9464);
    expect(loadConfig({ ...production, METRICS_PORT: '0' }).metricsPort).to.equal(null);
    expect(loadConfig({}).metricsPort).to.equal(null);
    expect(loadConfig({ METRICS_PORT: '9100' }).metricsPort).to.equal(9100);
    expect(() => loadConfig({ METRICS_PORT: '4000' })).to.throw(ConfigError, /METRICS_PORT: must differ from PORT/);
    expect(() => loadConfig({ METRICS_PORT: 'nine' })).to.throw(ConfigError, /METRICS_PORT/);
  });

  it('traces only when an OTLP endpoint is set, with the standard sampler variables checked', () => {
    expect(loadConfig({}).tracing).to.equal(null);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).to.deep.equal({
      sampler: 'parentbased_always_on',
      ratio: 1,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).tracing).to.not.equal(null);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing).to.equal(null);
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }).tracing,
    ).to.deep.equal({ sampler: 'parentbased_traceidratio', ratio: 0.25 });
    let err: ConfigError | undefined;
    try {
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318', OTEL_TRACES_SAMPLER: 'sometimes', OTEL_TRACES_SAMPLER_ARG: '2' });
    } catch (e) {
      err = e as ConfigError;
    }
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'])
      expect(err?.message).to.contain(`${name}:`);
  });
});
