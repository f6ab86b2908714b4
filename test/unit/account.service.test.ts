import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { unlimited } from '../../src/adapters/rate-limiter';
import { createLogger } from '../../src/logger';
import { AccountService } from '../../src/services/account.service';
import { RegistrationLockService } from '../../src/services/registration-lock.service';
import { VerificationService } from '../../src/services/verification.service';
import { FakeMessageRepository, FakeSmsProvider, FakeUserRepository, MemoryBlobStore } from '../support/fakes';
import { fakeVerification } from '../support/service-fixtures';

describe('AccountService (unit)', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');
  const ip = '203.0.113.7';
  let users: FakeUserRepository;
  let sms: FakeSmsProvider;
  let accounts: AccountService;
  let verification: VerificationService;
  const input = { cid: 'cid-1', regionNum: '86', phoneNum: '139 1234 5678', nickname: ' Ann ' };

  beforeEach(() => {
    users = new FakeUserRepository();
    sms = new FakeSmsProvider();
    verification = fakeVerification(sms, unlimited, () => now);
    const lock = new RegistrationLockService(users, unlimited, { lapseMs: 7 * 86_400_000, pepper: Buffer.alloc(32, 2) }, () => now);
    const blobs = new MemoryBlobStore();
    accounts = new AccountService({
      users,
      verification,
      lock,
      cleanup: { blobs, images: new FakeMessageRepository(users), pushes: { committed: () => undefined } },
      log: createLogger('silent'),
      now: () => now,
    });
  });

  /** Both steps: a code by SMS, then register with it. */
  async function register(overrides: Partial<typeof input> = {}) {
    const args = { ...input, ...overrides };
    await verification.request(args.regionNum, args.phoneNum, ip);
    return accounts.register({ ...args, verificationCode: sms.lastCode()! }, ip);
  }

  it('stores only a SHA-256 of the ukey and the normalised phone', async () => {
    const r = await register();
    const row = users.rows[0];
    expect(row.ukeyHash).to.equal(createHash('sha256').update(r.ukey).digest('hex'));
    expect(row).to.include({ regionNum: '86', phoneNum: '13912345678', nickname: 'Ann', cid: 'cid-1' });
    expect(r.phoneHash).to.equal(createHash('sha256').update('+8613912345678').digest('hex'));
    expect(row.regTime).to.equal(now);
  });

  it('authenticates the current ukey only, and nothing after a move to another device', async () => {
    const first = await register();
    expect((await accounts.authenticate(`Bearer ${first.phoneHash}.${first.ukey}`))?.uid).to.equal(first.uid);
    const second = await register({ cid: 'cid-2' });
    expect(second.uid).to.equal(first.uid);
    expect(await accounts.authenticate(`Bearer ${first.phoneHash}.${first.ukey}`)).to.equal(null);
    expect((await accounts.authenticate(`Bearer ${second.phoneHash}.${second.ukey}`))?.cid).to.equal('cid-2');
  });

  it('treats malformed headers as no token', async () => {
    const r = await register();
    for (const h of [
      undefined,
      '',
      'Bearer',
      `Basic ${r.phoneHash}.${r.ukey}`,
      `Bearer ${r.phoneHash}`,
      `Bearer ${r.phoneHash}.${r.ukey}x`,
      `Bearer ${r.phoneHash.toUpperCase()}.${r.ukey}`,
    ]) {
      expect(await accounts.authenticate(h), String(h)).to.equal(null);
    }
  });

  it('refuses bad input with BAD_USER_INPUT naming the field, before any code is checked', async () => {
    for (const [patch, field] of [
      [{ phoneNum: '1' }, 'phoneNum'],
      [{ regionNum: 'x' }, 'regionNum'],
      [{ nickname: '' }, 'nickname'],
      [{ cid: 'has space' }, 'cid'],
      [{ verificationCode: '12345' }, 'verificationCode'],
      [{ verificationCode: 'abcdef' }, 'verificationCode'],
    ] as const) {
      const e = await accounts.register({ ...input, verificationCode: '123456', ...patch }, ip).then(
        () => null,
        (err) => err,
      );
      expect(e?.extensions, JSON.stringify(patch)).to.deep.equal({ code: 'BAD_USER_INPUT', field });
    }
    expect(users.rows).to.have.length(0);
  });

  it('moves nothing without the right code', async () => {
    const first = await register();
    const e = await accounts.register({ ...input, cid: 'thief', verificationCode: '000000' }, ip).then(
      () => null,
      (err) => err,
    );
    expect(e?.extensions?.code).to.equal('BAD_USER_INPUT');
    expect(users.rows[0].cid).to.equal('cid-1');
    expect((await accounts.authenticate(`Bearer ${first.phoneHash}.${first.ukey}`))?.uid).to.equal(first.uid);
  });
});
