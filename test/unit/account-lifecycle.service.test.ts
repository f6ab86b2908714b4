import { Readable } from 'node:stream';
import { expect } from 'chai';
import { unlimited } from '../../src/adapters/rate-limiter';
import type { RateLimitName, RateLimitRule } from '../../src/config';
import { createLogger } from '../../src/logger';
import { AccountLifecycleService } from '../../src/services/account-lifecycle.service';
import { AccountService, RegistrationResult } from '../../src/services/account.service';
import { RegistrationLockService } from '../../src/services/registration-lock.service';
import { VerificationService } from '../../src/services/verification.service';
import {
  FakeAccountExportRepository,
  FakeAccountLifecycleRepository,
  FakeMessageRepository,
  FakeRateLimiter,
  FakeSmsProvider,
  FakeUserRepository,
  MemoryBlobStore,
} from '../support/fakes';
import { failure, fakeVerification } from '../support/service-fixtures';

const RULES: Partial<Record<RateLimitName, RateLimitRule>> = {
  changeNumber: { points: 5, durationSeconds: 86_400 },
  exportData: { points: 1, durationSeconds: 3600 },
};

describe('AccountLifecycleService (unit)', () => {
  const ip = '203.0.113.5';
  let clock: Date;
  let users: FakeUserRepository;
  let rows: FakeAccountLifecycleRepository;
  let sms: FakeSmsProvider;
  let blobs: MemoryBlobStore;
  let verification: VerificationService;
  let accounts: AccountService;
  let lifecycle: AccountLifecycleService;
  let committed: number;

  beforeEach(() => {
    clock = new Date('2026-05-01T08:00:00.000Z');
    users = new FakeUserRepository();
    rows = new FakeAccountLifecycleRepository(users);
    sms = new FakeSmsProvider();
    blobs = new MemoryBlobStore();
    committed = 0;
    const log = createLogger('silent');
    verification = fakeVerification(sms, unlimited, () => clock);
    const lock = new RegistrationLockService(users, unlimited, { lapseMs: 7 * 86_400_000, pepper: Buffer.alloc(32, 4) }, () => clock);
    accounts = new AccountService({
      users,
      verification,
      lock,
      cleanup: { blobs, images: new FakeMessageRepository(users), pushes: { committed: () => undefined } },
      log,
      now: () => clock,
    });
    lifecycle = new AccountLifecycleService({
      users,
      rows,
      exports: new FakeAccountExportRepository(users),
      verification,
      limiter: new FakeRateLimiter(RULES, () => clock),
      cleanup: { blobs, pushes: { committed: () => void committed++ } },
      log,
      now: () => clock,
    });
  });

  async function register(phoneNum: string): Promise<RegistrationResult> {
    await verification.request('86', phoneNum, ip);
    return accounts.register({ cid: `cid-${phoneNum}`, regionNum: '86', phoneNum, nickname: 'n', verificationCode: sms.lastCode()! }, ip);
  }
  const viewer = async (r: RegistrationResult) => (await accounts.authenticate(`Bearer ${r.phoneHash}.${r.ukey}`))!;

  it('signOut: the token no longer authenticates and the cid is gone; the account stays', async () => {
    const r = await register('13900000001');
    expect(await lifecycle.signOut(await viewer(r))).to.equal(true);
    expect(await accounts.authenticate(`Bearer ${r.phoneHash}.${r.ukey}`)).to.equal(null);
    expect(users.rows[0]).to.include({ uid: r.uid, cid: null });
  });

  it('changeNumber: a new token on the new number; the old token and number stop; 5 tries a day', async () => {
    const r = await register('13900000002');
    await verification.request('86', '13900000003', ip);
    const changed = await lifecycle.changeNumber(
      await viewer(r),
      { regionNum: '86', phoneNum: '13900000003', verificationCode: sms.lastCode()! },
      ip,
    );
    expect(changed.uid).to.equal(r.uid);
    expect(await accounts.authenticate(`Bearer ${r.phoneHash}.${r.ukey}`)).to.equal(null);
    const now = await viewer(changed);
    expect(now.phoneNum).to.equal('13900000003');

    // Own number: refused before anything is spent; wrong codes spend the day's tries.
    expect(
      await failure(lifecycle.changeNumber(now, { regionNum: '86', phoneNum: '13900000003', verificationCode: '123456' }, ip)),
    ).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'phoneNum' });
    await verification.request('86', '13900000004', ip);
    for (let i = 0; i < 4; i++) {
      expect(
        (await failure(lifecycle.changeNumber(now, { regionNum: '86', phoneNum: '13900000004', verificationCode: '000000' }, ip))).field,
      ).to.equal('verificationCode');
    }
    const limited = await failure(
      lifecycle.changeNumber(now, { regionNum: '86', phoneNum: '13900000004', verificationCode: sms.lastCode()! }, ip),
    );
    expect(limited.code).to.equal('RATE_LIMITED');
    expect(limited.retryAfter).to.be.within(86_000, 86_400);
  });

  it('changeNumber to a number that has an account: BAD_USER_INPUT, and the code stays good', async () => {
    const r = await register('13900000005');
    await register('13900000006');
    await verification.request('86', '13900000006', ip);
    const code = sms.lastCode()!;
    expect(
      await failure(lifecycle.changeNumber(await viewer(r), { regionNum: '86', phoneNum: '13900000006', verificationCode: code }, ip)),
    ).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'phoneNum' });
    // The code was not used up: its owner can still register with it.
    const again = await accounts.register(
      { cid: 'cid-x', regionNum: '86', phoneNum: '13900000006', nickname: 'n', verificationCode: code },
      ip,
    );
    expect(again.phoneHash).to.equal(users.rows[1].phoneHash);
  });

  it('deleteAccount: blobs go after the rows, a failing blob delete still deletes the account; the receipts are sent at once', async () => {
    const r = await register('13900000007');
    for (const name of ['a', 'b']) await blobs.put(name, Readable.from([Buffer.from('x')]), { size: 1, contentType: 'image/jpeg' });
    rows.blobsOf = () => ['a', 'b'];
    expect(await lifecycle.deleteAccount(r.uid)).to.equal(true);
    expect(rows.deleted).to.deep.equal([r.uid]);
    expect(rows.forgotten).to.deep.equal([r.phoneHash]);
    expect(committed).to.equal(1);
    expect(blobs.blobs.size).to.equal(0);
    expect(await lifecycle.deleteAccount(r.uid)).to.equal(false);

    const s = await register('13900000008');
    await blobs.put('c', Readable.from([Buffer.from('x')]), { size: 1, contentType: 'image/jpeg' });
    rows.blobsOf = () => ['c'];
    blobs.failDeletes = new Error('store down');
    expect(await lifecycle.deleteAccount(s.uid)).to.equal(true);
    expect(rows.deleted).to.deep.equal([r.uid, s.uid]);
  });

  it('deleteByPhone: the SMS code alone, never a wrong one; a number without an account deletes nothing', async () => {
    const r = await register('13900000009');
    await verification.request('86', '13900000009', ip);
    const code = sms.lastCode()!;
    expect((await failure(lifecycle.deleteByPhone('86', '13900000009', code === '000000' ? '000001' : '000000', ip))).field).to.equal(
      'verificationCode',
    );
    expect(rows.deleted).to.deep.equal([]);
    expect(await lifecycle.deleteByPhone('86', '139 0000 0009', code, ip)).to.deep.equal({ deleted: true, e164: '+8613900000009' });
    expect(rows.deleted).to.deep.equal([r.uid]);
    await verification.request('86', '13900000010', ip);
    expect(await lifecycle.deleteByPhone('86', '13900000010', sms.lastCode()!, ip)).to.deep.equal({
      deleted: false,
      e164: '+8613900000010',
    });
  });

  it('exportMyData: once an hour per user (RATE_LIMIT_EXPORT), with retryAfter; another user is not held up', async () => {
    const [a, b] = [await register('13900000011'), await register('13900000012')];
    const doc = await lifecycle.exportMyData(await viewer(a));
    expect(doc).to.deep.include({ format: 'glimpse-export-v1', exportedAt: clock.toISOString() });
    expect(doc.profile).to.deep.include({ uid: a.uid, phoneNumber: '+8613900000011' });
    const limited = await failure(lifecycle.exportMyData(await viewer(a)));
    expect(limited.code).to.equal('RATE_LIMITED');
    expect(limited.retryAfter).to.equal(3600);
    await lifecycle.exportMyData(await viewer(b));
    clock = new Date(clock.getTime() + 3_600_000);
    await lifecycle.exportMyData(await viewer(a));
  });
});
