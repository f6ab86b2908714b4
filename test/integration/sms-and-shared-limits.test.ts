import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import Redis from 'ioredis';
import { VerificationCode } from '../../src/entities/verification-code.entity';
import { createLogger } from '../../src/logger';
import { RunningServer, startServer } from '../../src/server';
import { phoneHashOf } from '../../src/services/phone';
import { ApiClient, GqlResult } from '../support/client';
import { FakeSmsMode } from '../support/fake-aliyun-sms';
import { nextPhone, REQUEST_CODE, registerUser } from '../support/factories';
import { needsRedis, REDIS_URL } from '../support/services';
import { STACKS, startStack, TestStack } from '../support/stack';

const codeOf = (r: GqlResult) => r.errors?.[0]?.extensions?.code;

/** A second Glimpse instance on the same database and store as the stack's (as behind a load balancer). */
async function secondInstance(stack: TestStack): Promise<{ api: ApiClient; server: RunningServer }> {
  const server = await startServer({ ...stack.config, port: 0 }, createLogger('silent'));
  return { api: new ApiClient(server.url), server };
}

describe('SMS providers (API10: answers validated, with timeouts)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let api: ApiClient;

  before(async () => {
    stack = await startStack(STACKS[0], {
      RATE_LIMIT_MULTIPLIER: '1',
      ALIYUN_SMS_TIMEOUT_MS: '300',
      SMS_TEST_NUMBERS: '+8613800000001=246810, +44 7911 123456=135790',
    });
    api = new ApiClient(stack.url);
  });
  after(() => stack?.stop());
  afterEach(() => {
    stack.sms!.mode = 'ok';
  });

  for (const [mode, what] of [
    ['refuse', 'an error code (HTTP 200)'],
    ['http500', 'HTTP 500'],
    ['garbage', 'something that is not JSON'],
    ['no-biz-id', 'OK without a BizId'],
    ['hang', 'nothing within the timeout'],
  ] as [FakeSmsMode, string][]) {
    it(`a provider that answers ${what}: a clear error, one call, no code kept, the budget still spent`, async () => {
      stack.sms!.mode = mode;
      const phone = nextPhone();
      const calls = stack.sms!.calls;
      const res = await api.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum });
      expect(res.errors![0].extensions).to.deep.equal({ code: 'INTERNAL_SERVER_ERROR', reason: 'SMS_FAILED' });
      expect(res.errors![0].message).to.equal('The verification code could not be sent; please try again later');
      expect(stack.sms!.calls - calls).to.equal(1);
      expect(
        await stack.server.container.db.getRepository(VerificationCode).countBy({ phoneHash: phoneHashOf('86', phone.phoneNum) }),
      ).to.equal(0);
      stack.sms!.mode = 'ok';
      expect(codeOf(await api.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum }))).to.equal('RATE_LIMITED');
    });
  }

  it('SMS_TEST_NUMBERS: no SMS, and the fixed code registers every time without a code request', async () => {
    const calls = stack.sms!.calls;
    const first = await registerUser(api, { regionNum: '86', phoneNum: '13800000001', verificationCode: '246810' });
    const again = await registerUser(api, { regionNum: '86', phoneNum: '138 0000 0001', verificationCode: '246810', cid: 'review-2' });
    expect(again.uid).to.equal(first.uid);
    expect((await api.gql(REQUEST_CODE, { r: '44', p: '7911123456' })).errors).to.equal(undefined);
    await registerUser(api, { regionNum: '44', phoneNum: '7911 123456', verificationCode: '135790' });
    expect(stack.sms!.calls).to.equal(calls);
    const wrong = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { uid } }', {
      i: { cid: 'c', regionNum: '86', phoneNum: '13800000001', nickname: 'n', verificationCode: '000000' },
    });
    expect(wrong.errors![0].extensions).to.include({ code: 'BAD_USER_INPUT', reason: 'WRONG' });
  });
});

describe('SMS_PROVIDER=log (development)', function () {
  this.timeout(60_000);
  it('writes the code to the log with the number masked to its last two digits, never the number or its hash', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _e, done) {
        out += chunk.toString();
        done();
      },
    });
    const stack = await startStack(STACKS[0], { SMS_PROVIDER: 'log', LOG_LEVEL: 'info' }, { logStream: sink });
    try {
      const phone = nextPhone();
      const api = new ApiClient(stack.url);
      expect((await api.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum })).errors).to.equal(undefined);
      const line = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((l) => l.smsCode);
      // What a developer looks for: the calling code and the last digits of their own number.
      expect(line.to).to.equal(`+86*********${phone.phoneNum.slice(-2)}`);
      expect(line.smsCode).to.match(/^\d{6}$/);
      expect(out).not.to.contain(phone.phoneNum);
      expect(out).not.to.contain(phoneHashOf('86', phone.phoneNum));
      const res = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { uid } }', {
        i: { cid: 'c', ...phone, nickname: 'n', verificationCode: line.smsCode },
      });
      expect(res.data!.register.uid).to.be.a('number');
    } finally {
      await stack.stop();
    }
  });
});

describe('rate-limit counters are shared by every instance', function () {
  this.timeout(60_000);

  async function expectShared(stack: TestStack): Promise<void> {
    const other = await secondInstance(stack);
    try {
      const phone = nextPhone();
      const a = new ApiClient(stack.url);
      expect((await a.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum })).errors).to.equal(undefined);
      const onB = await other.api.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum });
      expect(codeOf(onB)).to.equal('RATE_LIMITED');
    } finally {
      await other.server.stop();
    }
  }

  it('in the database (MySQL/MariaDB), on the app’s own pool', async function () {
    if (!STACKS.includes('mysql-s3')) return this.skip(); // MySQL left out (TEST_STACKS, or not reachable)
    const stack = await startStack('mysql-s3', { RATE_LIMIT_MULTIPLIER: '1' });
    try {
      await expectShared(stack);
      const rows = await stack.server.container.db.query('SELECT `key` FROM rate_limit');
      expect(rows.length).to.be.greaterThan(0);
    } finally {
      await stack.stop();
    }
  });

  it('in Redis when REDIS_URL is set, under keys that name no number or address', async function () {
    needsRedis(this);
    const prefix = `glimpse-test-${randomBytes(4).toString('hex')}:`;
    const stack = await startStack(STACKS[0], { RATE_LIMIT_MULTIPLIER: '1', REDIS_URL, REDIS_KEY_PREFIX: prefix });
    const redis = new Redis(REDIS_URL);
    try {
      const user = await registerUser(new ApiClient(stack.url), {}).catch((e) => e);
      expect(user).to.have.property('uid');
      await expectShared(stack);
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.length).to.be.greaterThan(0);
      for (const k of keys) expect(k).to.match(new RegExp(`^${prefix}[a-zA-Z]+:[A-Za-z0-9_-]{32}$`));
      const [{ n }] = await stack.server.container.db.query('SELECT COUNT(*) AS n FROM rate_limit');
      expect(Number(n)).to.equal(0);
    } finally {
      await stack.stop();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
