import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { VerificationCode } from '../../src/entities/verification-code.entity';
import { User } from '../../src/entities/user.entity';
import { phoneHashOf } from '../../src/services/phone';
import { ApiClient, GqlResult } from '../support/client';
import { jpegBytes, nextPhone, REQUEST_CODE, requestCode, TestUser } from '../support/factories';
import { describeEachStack, TestStack } from '../support/stack';

const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { uid ukey phoneHash } }';

const errorOf = (r: GqlResult) =>
  (r.errors?.[0]?.extensions ?? {}) as { code?: string; reason?: string; triesLeft?: number; retryAfter?: number; field?: string };

/** A client address of its own for each test, so one test's per-address counters never touch another's. */
function newAddress(): Record<string, string> {
  return { 'x-forwarded-for': `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}` };
}

describeEachStack(
  'verification and rate limits (real limits)',
  (stack: () => TestStack) => {
    let api: ApiClient;
    before(() => {
      api = new ApiClient(stack().url);
    });

    const register = (phone: { regionNum: string; phoneNum: string }, verificationCode: string, headers = newAddress(), cid = 'cid-1') =>
      api.gql(REGISTER, { i: { cid, ...phone, nickname: 'n', verificationCode } }, undefined, headers);

    describe('two-step register over the Aliyun SMS API', () => {
      it('sends the code through the SDK in a request the (fake) Aliyun service accepts, then registers with it', async () => {
        const phone = nextPhone();
        const headers = newAddress();
        const before = stack().sms!.sent.length;
        const answer = await api.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum }, undefined, headers);
        const sendTime = Date.now();
        const v = answer.data!.requestVerificationCode;
        expect(Object.keys(v).sort()).to.deep.equal(['expiresAt', 'resendAfter']);
        expect(Date.parse(v.expiresAt) - sendTime).to.be.within(590_000, 600_000);
        expect(Date.parse(v.resendAfter) - sendTime).to.be.within(50_000, 60_000);
        expect(stack().sms!.rejected).to.deep.equal([]);
        const sms = stack().sms!.sent.slice(before);
        expect(sms).to.have.length(1);
        expect(sms[0]).to.deep.include({ phoneNumbers: phone.phoneNum, signName: 'Glimpse', templateCode: 'SMS_123456789' });
        expect(JSON.stringify(answer)).not.to.contain(sms[0].code);
        const res = await register(phone, sms[0].code, headers);
        expect(res.data!.register.phoneHash).to.equal(phoneHashOf('86', phone.phoneNum));
      });

      it('writes a number outside mainland China as calling code + number', async () => {
        const headers = newAddress();
        const national = `7400${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, '0')}`;
        await requestCode(api, '44', national, headers);
        expect(stack().sms!.sent.at(-1)!.phoneNumbers).to.equal(`44${national}`);
      });
    });

    describe('codes (API2: broken authentication)', () => {
      it('a wrong code is refused as WRONG, as for a number no code was sent to; the fifth burns the code for good', async () => {
        const phone = nextPhone();
        const headers = newAddress();
        const code = await requestCode(api, phone.regionNum, phone.phoneNum, headers);
        const wrong = code === '000000' ? '000001' : '000000';
        const never = await register(nextPhone(), wrong, headers);
        for (let i = 0; i < 6; i++) {
          const res = await register(phone, wrong, headers);
          // The same answer as for a number nobody asked a code for: no hint that someone did.
          expect(res.errors![0].message).to.equal('The verification code is wrong');
          expect(res.errors![0]).to.deep.equal({ ...never.errors![0], path: res.errors![0].path });
          expect(errorOf(res)).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'verificationCode', reason: 'WRONG' });
        }
        const burnt = await register(phone, code, headers);
        expect(errorOf(burnt)).to.include({ code: 'BAD_USER_INPUT', reason: 'TOO_MANY_TRIES' });
        expect(burnt.errors![0].message).to.contain('Too many wrong tries');
        expect(
          await stack()
            .server.container.db.getRepository(User)
            .countBy({ phoneHash: phoneHashOf('86', phone.phoneNum) }),
        ).to.equal(0);
      });

      it('a code works once: used again it is USED', async () => {
        const phone = nextPhone();
        const code = await requestCode(api, phone.regionNum, phone.phoneNum, newAddress());
        expect((await register(phone, code)).data!.register.ukey).to.be.a('string');
        const again = await register(phone, code, newAddress(), 'other-device');
        expect(errorOf(again)).to.include({ code: 'BAD_USER_INPUT', reason: 'USED' });
        expect(again.errors![0].message).to.contain('already been used');
      });

      it('a code past its 10 minutes is EXPIRED', async () => {
        const phone = nextPhone();
        const code = await requestCode(api, phone.regionNum, phone.phoneNum, newAddress());
        await stack()
          .server.container.db.getRepository(VerificationCode)
          .update({ phoneHash: phoneHashOf('86', phone.phoneNum) }, { expiresAt: new Date(Date.now() - 1000) });
        const res = await register(phone, code);
        expect(errorOf(res)).to.include({ code: 'BAD_USER_INPUT', reason: 'EXPIRED' });
        expect(res.errors![0].message).to.contain('expired');
      });

      it('two registers racing with one code: exactly one wins, the other hears USED', async () => {
        const phone = nextPhone();
        const code = await requestCode(api, phone.regionNum, phone.phoneNum, newAddress());
        const results = await Promise.all([
          register(phone, code, newAddress(), 'device-a'),
          register(phone, code, newAddress(), 'device-b'),
        ]);
        expect(results.filter((r) => r.data?.register)).to.have.length(1);
        expect(errorOf(results.find((r) => !r.data)!).reason).to.equal('USED');
      });

      it('a known phone moves only with a code sent to it: the owner keeps the account otherwise', async () => {
        const phone = nextPhone();
        const owner = await register(phone, await requestCode(api, phone.regionNum, phone.phoneNum, newAddress()));
        const token = `${owner.data!.register.phoneHash}.${owner.data!.register.ukey}`;
        for (const guess of ['000000', '123456', '999999']) await register(phone, guess, newAddress(), 'thief');
        expect((await api.gql('{ me { uid } }', {}, token)).data!.me.uid).to.equal(owner.data!.register.uid);
      });
    });

    describe('rate limits (API4, API6)', () => {
      it('one code per number per 60 s: RATE_LIMITED with retryAfter, and nothing sent', async () => {
        const phone = nextPhone();
        await requestCode(api, phone.regionNum, phone.phoneNum, newAddress());
        const calls = stack().sms!.calls;
        const again = await api.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum }, undefined, newAddress());
        expect(again.errors![0].extensions!.code).to.equal('RATE_LIMITED');
        expect(again.errors![0].extensions!.retryAfter).to.be.within(1, 60);
        expect(stack().sms!.calls).to.equal(calls);
      });

      it('SMS pumping from one address: 20 codes an hour to any numbers, then RATE_LIMITED', async () => {
        const headers = newAddress();
        const calls = stack().sms!.calls;
        for (let i = 0; i < 20; i++) {
          const p = nextPhone();
          const res = await api.gql(REQUEST_CODE, { r: p.regionNum, p: p.phoneNum }, undefined, headers);
          expect(res.errors, `code ${i + 1}: ${JSON.stringify(res.errors)}`).to.equal(undefined);
        }
        const p = nextPhone();
        const refused = await api.gql(REQUEST_CODE, { r: p.regionNum, p: p.phoneNum }, undefined, headers);
        expect(errorOf(refused).code).to.equal('RATE_LIMITED');
        expect(errorOf(refused).retryAfter).to.be.within(3000, 3600);
        expect(stack().sms!.calls - calls).to.equal(20);
      });

      it('IPv6 clients count by their /56: codes from 20 of its /64s share one budget, the next /56 has its own', async () => {
        const [x, y] = [randomBytes(2).toString('hex'), randomBytes(1)[0]];
        // The /56 is 2001:db8:x:yy00::/56; each code comes from another /64 of it (and another host).
        const from = (subnet: number, host = subnet + 1) => ({
          'x-forwarded-for': `2001:db8:${x}:${((y << 8) | subnet).toString(16)}::${host.toString(16)}`,
        });
        for (let i = 0; i < 20; i++) {
          const p = nextPhone();
          const res = await api.gql(REQUEST_CODE, { r: p.regionNum, p: p.phoneNum }, undefined, from(i * 13));
          expect(res.errors, `code ${i + 1}: ${JSON.stringify(res.errors)}`).to.equal(undefined);
        }
        const p = nextPhone();
        const refused = await api.gql(REQUEST_CODE, { r: p.regionNum, p: p.phoneNum }, undefined, from(255, 7));
        expect(errorOf(refused).code).to.equal('RATE_LIMITED');
        expect(errorOf(refused).retryAfter).to.be.within(3000, 3600);
        const nextSlash56 = { 'x-forwarded-for': `2001:db8:${x}:${(((y + 1) & 0xff) << 8).toString(16)}::1` };
        expect((await api.gql(REQUEST_CODE, { r: p.regionNum, p: p.phoneNum }, undefined, nextSlash56)).errors).to.equal(undefined);
      });

      it('SMS pumping through one block of numbers from many addresses: 10 an hour, then RATE_LIMITED', async () => {
        // 137…: a block no other test's numbers fall in (nextPhone gives 139…), so its budget is whole.
        const block = `137${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
        for (let i = 0; i < 10; i++) {
          const res = await api.gql(REQUEST_CODE, { r: '86', p: `${block}${String(i).padStart(4, '0')}` }, undefined, newAddress());
          expect(res.errors, `code ${i + 1}: ${JSON.stringify(res.errors)}`).to.equal(undefined);
        }
        const refused = await api.gql(REQUEST_CODE, { r: '86', p: `${block}9999` }, undefined, newAddress());
        expect(errorOf(refused).code).to.equal('RATE_LIMITED');
      });

      it('register tries per number: 10 an hour, right or wrong, then RATE_LIMITED even with the right code', async () => {
        const phone = nextPhone();
        const code = await requestCode(api, phone.regionNum, phone.phoneNum, newAddress());
        // Five wrong tries burn a code: spread the ten tries over two codes.
        for (let i = 0; i < 4; i++) await register(phone, code === '000000' ? '000001' : '000000');
        await stack()
          .server.container.db.getRepository(VerificationCode)
          .update({ phoneHash: phoneHashOf('86', phone.phoneNum) }, { attempts: 0 });
        for (let i = 0; i < 6; i++) await register(phone, code === '000000' ? '000001' : '000000');
        const refused = await register(phone, code);
        expect(errorOf(refused).code).to.equal('RATE_LIMITED');
      });

      it('a malformed call spends nothing', async () => {
        const headers = newAddress();
        for (let i = 0; i < 25; i++) {
          const res = await api.gql(REQUEST_CODE, { r: '86', p: '12' }, undefined, headers);
          expect(errorOf(res).code).to.equal('BAD_USER_INPUT');
        }
        const p = nextPhone();
        expect((await api.gql(REQUEST_CODE, { r: p.regionNum, p: p.phoneNum }, undefined, headers)).errors).to.equal(undefined);
      });

      it('sends per user: over the budget is RATE_LIMITED and nothing is stored', async () => {
        const [a, b] = await Promise.all([registerFresh(), registerFresh()]);
        for (let i = 0; i < 3; i++) expect((await api.sendImage(a.token, b.uid, jpegBytes(2000))).errors).to.equal(undefined);
        const blobs = (await stack().blobNames()).length;
        const refused = await api.sendImage(a.token, b.uid, jpegBytes(2000));
        expect(errorOf(refused).code).to.equal('RATE_LIMITED');
        expect(errorOf(refused).retryAfter).to.be.within(1, 3600);
        expect((await stack().blobNames()).length).to.equal(blobs);
        // The budget is the sender's: another sender is not affected.
        expect((await api.sendImage(b.token, a.uid, jpegBytes(2000))).errors).to.equal(undefined);
      });
    });

    async function registerFresh(): Promise<TestUser> {
      const phone = nextPhone();
      const res = await register(phone, await requestCode(api, phone.regionNum, phone.phoneNum, newAddress()));
      const r = res.data!.register;
      return { ...r, token: `${r.phoneHash}.${r.ukey}`, nickname: 'n', ...phone, cid: 'cid-1' };
    }
  },
  { RATE_LIMIT_MULTIPLIER: '1', RATE_LIMIT_SEND_USER: '3/1h' },
);
