import { Writable } from 'node:stream';
import { expect } from 'chai';
import { LogSmsProvider } from '../../src/adapters/log.sms-provider';
import { SmsDeliveryError } from '../../src/adapters/sms-provider';
import type { RateLimitName, RateLimitRule } from '../../src/config';
import { createLogger } from '../../src/logger';
import { normalizePhone } from '../../src/services/phone';
import { VerificationService } from '../../src/services/verification.service';
import { FakeRateLimiter, FakeSmsProvider, FakeVerificationCodeRepository } from '../support/fakes';
import { failure } from '../support/service-fixtures';

type Extensions = { code?: string; reason?: string; triesLeft?: number; retryAfter?: number; field?: string };

const RULES: Partial<Record<RateLimitName, RateLimitRule>> = {
  codeResend: { points: 1, durationSeconds: 60 },
  codePhone: { points: 5, durationSeconds: 3600 },
  codeIp: { points: 20, durationSeconds: 3600 },
  codePrefix: { points: 10, durationSeconds: 3600 },
  registerPhone: { points: 10, durationSeconds: 3600 },
  registerIp: { points: 30, durationSeconds: 3600 },
};

describe('VerificationService (unit)', () => {
  let clock: Date;
  let codes: FakeVerificationCodeRepository;
  let sms: FakeSmsProvider;
  let limiter: FakeRateLimiter;
  let service: VerificationService;
  const ip = '198.51.100.4';
  const phone = normalizePhone('86', '13912345678');
  const testNumber = normalizePhone('86', '13800000001');

  const make = (rules = RULES) => {
    limiter = new FakeRateLimiter(rules, () => clock);
    service = new VerificationService(
      codes,
      sms,
      limiter,
      { codeTtlSeconds: 600, maxAttempts: 5, testNumbers: new Map([['+8613800000001', '246810']]), codeSecret: Buffer.alloc(32, 7) },
      createLogger('silent'),
      () => clock,
    );
  };
  const advance = (seconds: number) => {
    clock = new Date(clock.getTime() + seconds * 1000);
  };

  beforeEach(() => {
    clock = new Date('2026-03-04T05:06:07.000Z');
    codes = new FakeVerificationCodeRepository();
    sms = new FakeSmsProvider();
    make();
  });

  describe('requestVerificationCode', () => {
    it('sends a 6-digit code by SMS and answers only when it expires and when the next may be asked for', async () => {
      const answer = await service.request('86', '139 1234 5678', ip);
      expect(Object.keys(answer).sort()).to.deep.equal(['expiresAt', 'resendAfter']);
      expect(answer.expiresAt.getTime() - clock.getTime()).to.equal(600_000);
      expect(answer.resendAfter.getTime() - clock.getTime()).to.equal(60_000);
      expect(sms.sent).to.have.length(1);
      expect(sms.sent[0]).to.deep.include({ regionNum: '86', phoneNum: '13912345678', ttlMinutes: 10 });
      expect(sms.sent[0].code).to.match(/^\d{6}$/);
    });

    it('keeps neither the number nor the code: only the phone hash and a keyed hash of the code', async () => {
      await service.request('86', '13912345678', ip);
      const row = codes.rows[0];
      expect(row.phoneHash).to.equal(phone.phoneHash);
      expect(row.codeHash).to.match(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(row)).not.to.contain(sms.lastCode()!).and.not.to.contain('13912345678');
    });

    it('refuses a second code within 60 s with RATE_LIMITED and retryAfter, and allows it after', async () => {
      await service.request('86', '13912345678', ip);
      advance(20);
      const e = await failure<Extensions>(service.request('86', '13912345678', ip));
      expect(e).to.deep.equal({ code: 'RATE_LIMITED', retryAfter: 40 });
      advance(40);
      await service.request('86', '13912345678', ip);
      expect(sms.sent).to.have.length(2);
    });

    it('allows 5 codes an hour per phone; a refused call spends nothing', async () => {
      for (let i = 0; i < 5; i++) {
        await service.request('86', '13912345678', ip);
        advance(61);
      }
      expect((await failure<Extensions>(service.request('86', '13912345678', ip))).code).to.equal('RATE_LIMITED');
      expect(limiter.used('codeIp', ip)).to.equal(5);
      expect(sms.sent).to.have.length(5);
    });

    it('refuses a malformed number with BAD_USER_INPUT before spending anything', async () => {
      expect((await failure<Extensions>(service.request('86', '12', ip))).code).to.equal('BAD_USER_INPUT');
      expect(limiter.windows.size).to.equal(0);
    });

    it('bounds codes from one address to many numbers (SMS pumping)', async () => {
      for (let i = 0; i < 20; i++) await service.request('86', `139${String(i).padStart(4, '0')}5678`, ip);
      const e = await failure<Extensions>(service.request('86', '13798765432', ip));
      expect(e.code).to.equal('RATE_LIMITED');
      expect(sms.sent).to.have.length(20);
    });

    it('bounds codes to one block of numbers from many addresses (SMS pumping)', async () => {
      for (let i = 0; i < 10; i++) await service.request('86', `1391234${String(i).padStart(4, '0')}`, `192.0.2.${i}`);
      const e = await failure<Extensions>(service.request('86', '13912349999', '192.0.2.200'));
      expect(e.code).to.equal('RATE_LIMITED');
      await service.request('86', '13912359999', '192.0.2.201');
    });

    it('sends nothing and stores nothing for a test number', async () => {
      const answer = await service.request('86', '13800000001', ip);
      expect(answer.expiresAt.getTime() - clock.getTime()).to.equal(600_000);
      expect(sms.sent).to.have.length(0);
      expect(codes.rows).to.have.length(0);
    });

    it('answers a provider failure with a clear error, keeps no working code, and keeps the budget spent', async () => {
      sms.failWith = new SmsDeliveryError('SendSms refused: isv.BUSINESS_LIMIT_CONTROL', 'isv.BUSINESS_LIMIT_CONTROL');
      const e = await failure<Extensions>(service.request('86', '13912345678', ip));
      expect(e).to.deep.equal({ code: 'INTERNAL_SERVER_ERROR', reason: 'SMS_FAILED' });
      expect(codes.rows).to.have.length(0);
      sms.failWith = null;
      expect((await failure<Extensions>(service.request('86', '13912345678', ip))).code).to.equal('RATE_LIMITED');
    });
  });

  describe('verify (register)', () => {
    async function sendCode(): Promise<string> {
      await service.request('86', '13912345678', ip);
      return sms.lastCode()!;
    }

    it('accepts the code once; the same code again is USED', async () => {
      const code = await sendCode();
      await service.verify(phone, code, ip);
      expect(await failure<Extensions>(service.verify(phone, code, ip))).to.include({
        code: 'BAD_USER_INPUT',
        reason: 'USED',
        field: 'verificationCode',
      });
    });

    it('works for 10 minutes after it was sent', async () => {
      const code = await sendCode();
      advance(599);
      await service.verify(phone, code, ip);
    });

    it('is EXPIRED 10 minutes after it was sent', async () => {
      const code = await sendCode();
      advance(600);
      expect((await failure<Extensions>(service.verify(phone, code, ip))).reason).to.equal('EXPIRED');
    });

    it('is burnt after 5 wrong tries: even the right code then fails', async () => {
      const code = await sendCode();
      const wrong = code === '000000' ? '000001' : '000000';
      for (let i = 0; i < 5; i++)
        expect(await failure<Extensions>(service.verify(phone, wrong, ip))).to.deep.equal({
          code: 'BAD_USER_INPUT',
          field: 'verificationCode',
          reason: 'WRONG',
        });
      // Burnt: a wrong code still hears WRONG (no hint for a stranger); the right one is told why it fails.
      expect((await failure<Extensions>(service.verify(phone, wrong, ip))).reason).to.equal('WRONG');
      expect((await failure<Extensions>(service.verify(phone, code, ip))).reason).to.equal('TOO_MANY_TRIES');
      expect(codes.rows[0].attempts).to.equal(5);
    });

    it('does not count wrong tries against a code that is used or expired', async () => {
      const code = await sendCode();
      await service.verify(phone, code, ip);
      expect((await failure<Extensions>(service.verify(phone, '999999' === code ? '999998' : '999999', ip))).reason).to.equal('WRONG');
      expect(codes.rows[0].attempts).to.equal(0);
    });

    it('answers a number no code was sent to exactly as a wrong code: no hint that someone asked for one', async () => {
      const never = await service.verify(phone, '123456', ip).then(
        () => null,
        (e) => e,
      );
      const code = await sendCode();
      const wrong = await service.verify(phone, code === '123456' ? '123457' : '123456', ip).then(
        () => null,
        (e) => e,
      );
      expect(never.message).to.equal(wrong.message);
      expect(never.extensions).to.deep.equal(wrong.extensions);
      expect(never.extensions).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'verificationCode', reason: 'WRONG' });
    });

    it('a new code replaces the old one, with fresh tries', async () => {
      const first = await sendCode();
      await failure<Extensions>(service.verify(phone, first === '111111' ? '222222' : '111111', ip));
      advance(60);
      const second = await sendCode();
      if (second !== first) expect((await failure<Extensions>(service.verify(phone, first, ip))).reason).to.equal('WRONG');
      await service.verify(phone, second, ip);
    });

    it('accepts a test number’s fixed code every time without a code request; a wrong one is WRONG', async () => {
      await service.verify(testNumber, '246810', ip);
      await service.verify(testNumber, '246810', ip);
      expect((await failure<Extensions>(service.verify(testNumber, '135790', ip))).reason).to.equal('WRONG');
    });

    it('counts every try, right or wrong, against the phone and the address (test numbers too)', async () => {
      for (let i = 0; i < 10; i++) await service.verify(testNumber, i % 2 ? '246810' : '000000', ip).catch(() => undefined);
      expect(await failure<Extensions>(service.verify(testNumber, '246810', ip))).to.include({ code: 'RATE_LIMITED' });
      expect(limiter.used('registerPhone', testNumber.phoneHash)).to.equal(10);
    });

    it('refuses a malformed code before counting a try', async () => {
      const e = await failure<Extensions>(service.verify(phone, '12 34', ip));
      expect(e).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'verificationCode' });
      expect(limiter.used('registerPhone', phone.phoneHash)).to.equal(0);
    });
  });

  it('the log provider writes the code with the number masked to its last two digits, never the number or its hash', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const provider = new LogSmsProvider(createLogger('info', sink));
    await provider.sendVerificationCode({ ...phone, code: '314159', ttlMinutes: 10 });
    const line = JSON.parse(out.trim());
    expect(line).to.include({ to: '+86*********78', smsCode: '314159' });
    expect(out).not.to.contain('13912345678');
    expect(out).not.to.contain(phone.phoneHash);
  });
});
