import { Readable } from 'node:stream';
import { expect } from 'chai';
import type { RateLimitName, RateLimitRule } from '../../src/config';
import { createLogger } from '../../src/logger';
import { receiptJobs, ReceiptSigner, verifyReceipt } from '../../src/services/receipts';
import { AccountService, RegistrationResult } from '../../src/services/account.service';
import { hashPin, verifyPin } from '../../src/services/pin-hash';
import { RegistrationLockService } from '../../src/services/registration-lock.service';
import { VerificationService } from '../../src/services/verification.service';
import { FakeMessageRepository, FakeRateLimiter, FakeSmsProvider, FakeUserRepository, MemoryBlobStore } from '../support/fakes';
import { failure, fakeVerification } from '../support/service-fixtures';

const DAY = 86_400_000;
/** Cheap hashes for the tests about the rules; one test checks the production cost. */
const FAST = { N: 1024, r: 8, p: 1 };
const PIN = 'correct horse';
const RULES: Partial<Record<RateLimitName, RateLimitRule>> = {
  registrationLockPin: { points: 5, durationSeconds: 86_400 },
  registrationLockSet: { points: 10, durationSeconds: 3600 },
};

describe('registration lock (unit)', () => {
  const ip = '203.0.113.9';
  const phone = { regionNum: '86', phoneNum: '13912345678' };
  let clock: Date;
  let users: FakeUserRepository;
  let messages: FakeMessageRepository;
  let blobs: MemoryBlobStore;
  let sms: FakeSmsProvider;
  let limiter: FakeRateLimiter;
  let signer: ReceiptSigner;
  let lock: RegistrationLockService;
  let accounts: AccountService;
  let verification: VerificationService;
  let committed: number;

  beforeEach(() => {
    clock = new Date('2026-03-01T10:00:00.000Z');
    users = new FakeUserRepository();
    messages = new FakeMessageRepository(users);
    users.endPending = (uid, now, receipts) => messages.endPendingFor(uid, now, receipts);
    blobs = new MemoryBlobStore();
    sms = new FakeSmsProvider();
    limiter = new FakeRateLimiter(RULES, () => clock);
    signer = new ReceiptSigner(ReceiptSigner.newKey());
    committed = 0;
    verification = fakeVerification(sms, limiter, () => clock);
    lock = new RegistrationLockService(users, limiter, { lapseMs: 7 * DAY, pepper: Buffer.alloc(32, 7), scrypt: FAST }, () => clock);
    accounts = new AccountService({
      users,
      verification,
      lock,
      cleanup: { blobs, images: messages, pushes: { committed: () => void committed++ }, receipts: receiptJobs(signer) },
      log: createLogger('silent'),
      now: () => clock,
    });
  });

  const codeFor = async () => {
    await verification.request(phone.regionNum, phone.phoneNum, ip);
    return sms.lastCode()!;
  };
  const register = (code: string, more: Record<string, string | null> = {}) =>
    accounts.register({ ...phone, cid: 'cid-new', nickname: 'Thief', verificationCode: code, ...more }, ip);
  const authenticate = (r: RegistrationResult) => accounts.authenticate(`Bearer ${r.phoneHash}.${r.ukey}`);

  /** The owner: registered, a lock set, one image pending (stored as a blob) from a sender. */
  async function lockedOwner() {
    const sender = (
      await users.registerDevice({
        phoneHash: 's'.repeat(64),
        regionNum: '86',
        phoneNum: '1',
        nickname: 's',
        cid: 'cid-s',
        ukeyHash: 'x',
        now: clock,
      })
    ).user;
    const owner = await accounts.register(
      { ...phone, cid: 'cid-old', nickname: 'Owner', verificationCode: await codeFor(), publicKey: Buffer.alloc(32, 3).toString('base64') },
      ip,
    );
    await lock.set((await authenticate(owner))!, PIN);
    const [m] = await messages.createImageWithMessages(
      {
        objectName: 'blob-1',
        filetype: 'image/jpeg',
        size: 3,
        sha256: 'h',
        cipher: 'aes256gcm-64k',
        wrappedKey: 'k',
        expiresAt: new Date(clock.getTime() + DAY),
        createdAt: clock,
      },
      [{ messageKey: 'blob-1', senderUid: sender.uid, receiverUid: owner.uid, sendTime: clock }],
      () => null,
    );
    await blobs.put('blob-1', Readable.from([Buffer.from('abc')]), { contentType: 'image/jpeg' });
    clock = new Date(clock.getTime() + 120_000);
    return { owner, sender, message: m };
  }

  it('a code alone does not move a locked account; the same code then works with the PIN', async () => {
    const { owner } = await lockedOwner();
    const code = await codeFor();
    expect(await failure(register(code))).to.deep.equal({
      code: 'REGISTRATION_LOCKED',
      field: 'registrationLockPin',
      reason: 'PIN_MISSING',
    });
    expect(await failure(register(code, { registrationLockPin: 'not the pin' }))).to.include({
      code: 'REGISTRATION_LOCKED',
      reason: 'PIN_WRONG',
    });
    expect(users.rows.find((u) => u.uid === owner.uid)).to.include({ cid: 'cid-old', nickname: 'Owner' });
    expect((await authenticate(owner))?.uid).to.equal(owner.uid);
    expect(messages.messages[0].exist).to.equal(true);
    expect(blobs.blobs.has('blob-1')).to.equal(true);
    const moved = await register(code, { registrationLockPin: PIN });
    expect(moved.uid).to.equal(owner.uid);
    expect(await authenticate(owner)).to.equal(null);
  });

  it('a move ends pending images with receipts saying account_moved, deletes their blobs, tells the old device and clears publicKey', async () => {
    const { sender, message } = await lockedOwner();
    const moved = await register(await codeFor(), { registrationLockPin: PIN });
    expect(moved.user.publicKey).to.equal(null);
    expect(messages.messages[0]).to.include({ exist: false, endReason: 'account_moved' });
    expect(messages.images[0]).to.include({ wrappedKey: null, blobDeletedAt: clock });
    expect(blobs.blobs.has('blob-1')).to.equal(false);
    const receipt = messages.pushJobs.find((j) => j.kind === 'image_destroyed')!;
    expect(receipt.receiverUid).to.equal(sender.uid);
    const payload = JSON.parse(receipt.payload);
    expect(payload).to.include({ message_id: message.id, reason: 'account_moved', destroyed_at: clock.toISOString() });
    expect(
      verifyReceipt(signer.jwk(), { messageId: message.id, reason: 'account_moved', destroyedAt: clock.toISOString() }, payload.receipt),
    ).to.equal(true);
    expect(users.pushJobs).to.deep.equal([
      {
        receiverUid: moved.uid,
        cid: 'cid-old',
        kind: 'account_moved',
        payload: JSON.stringify({ event: 'account_moved', moved_at: clock.toISOString() }),
        expiresAt: null,
      },
    ]);
    expect(committed).to.equal(1);
  });

  it('a new publicKey comes with the move; the same device registering again is not told it moved', async () => {
    await lockedOwner();
    const key = Buffer.alloc(32, 9).toString('base64');
    const moved = await accounts.register(
      { ...phone, cid: 'cid-old', nickname: 'Owner', verificationCode: await codeFor(), registrationLockPin: PIN, publicKey: key },
      ip,
    );
    expect(moved.user.publicKey).to.equal(key);
    expect(users.pushJobs).to.deep.equal([]);
    expect(messages.messages[0].endReason).to.equal('account_moved');
  });

  it('5 wrong PINs a day per account, then RATE_LIMITED even with the right one; a missing PIN costs nothing', async () => {
    const { owner } = await lockedOwner();
    const code = await codeFor();
    for (let i = 0; i < 3; i++) await failure(register(code));
    for (let i = 0; i < 5; i++) expect((await failure(register(code, { registrationLockPin: `wrong-${i}` }))).reason).to.equal('PIN_WRONG');
    const limited = await failure(register(code, { registrationLockPin: PIN }));
    expect(limited.code).to.equal('RATE_LIMITED');
    expect(limited.retryAfter).to.be.within(86_000, 86_400);
    expect(users.rows.find((u) => u.uid === owner.uid)!.cid).to.equal('cid-old');
    clock = new Date(clock.getTime() + DAY);
    expect((await register(await codeFor(), { registrationLockPin: PIN })).uid).to.equal(owner.uid);
  });

  it('the right PIN does not count: it can be used any number of times', async () => {
    await lockedOwner();
    for (let i = 0; i < 7; i++) {
      const r = await register(await codeFor(), { registrationLockPin: PIN, cid: `cid-${i}` });
      await authenticate(r);
      clock = new Date(clock.getTime() + 61_000);
    }
    expect(limiter.used('registrationLockPin', String(users.rows[1].uid))).to.equal(0);
  });

  it('lapses once the account has not been seen for the window; any authenticated request renews it', async () => {
    const { owner } = await lockedOwner();
    clock = new Date(clock.getTime() + 6 * DAY);
    expect((await authenticate(owner))?.uid).to.equal(owner.uid);
    clock = new Date(clock.getTime() + 6 * DAY);
    expect((await failure(register(await codeFor()))).code).to.equal('REGISTRATION_LOCKED');
    clock = new Date(clock.getTime() + 2 * DAY);
    const moved = await register(await codeFor());
    expect(moved.uid).to.equal(owner.uid);
    // The lock stays with the account: it holds again for the new device.
    expect(users.rows.find((u) => u.uid === owner.uid)!.registrationLock).to.match(/^scrypt\$/);
    clock = new Date(clock.getTime() + 120_000);
    expect((await failure(register(await codeFor(), { cid: 'cid-third' }))).code).to.equal('REGISTRATION_LOCKED');
  });

  it('records the last request at most once an hour', async () => {
    const { owner } = await lockedOwner();
    const row = () => users.rows.find((u) => u.uid === owner.uid)!;
    const start = row().lastSeenAt!;
    clock = new Date(start.getTime() + 30 * 60_000);
    await authenticate(owner);
    expect(row().lastSeenAt).to.equal(start);
    clock = new Date(start.getTime() + 61 * 60_000);
    await authenticate(owner);
    expect(row().lastSeenAt).to.equal(clock);
  });

  it('does not pass a move when the lock changed after the PIN was checked', async () => {
    const { owner } = await lockedOwner();
    const user = users.rows.find((u) => u.uid === owner.uid)!;
    const pass = await lock.admit(user, PIN);
    expect(lock.stillAdmits(user, pass)).to.equal(true);
    expect(lock.stillAdmits({ ...user, registrationLock: await hashPin('another pin', Buffer.alloc(32, 7), FAST) }, pass)).to.equal(false);
    expect(lock.stillAdmits({ ...user, registrationLock: null }, pass)).to.equal(true);
    const noLockSeen = await lock.admit(null, null);
    expect(lock.stillAdmits(user, noLockSeen)).to.equal(false);
  });

  it('setRegistrationLock: 6 to 64 characters, stored only as a salted scrypt hash, null removes it, rate limited', async () => {
    const owner = await accounts.register({ ...phone, cid: 'c', nickname: 'O', verificationCode: await codeFor() }, ip);
    const viewer = (await authenticate(owner))!;
    for (const bad of ['12345', 'x'.repeat(65)])
      expect(await failure(lock.set(viewer, bad))).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'pin' });
    // At the production cost: N=2^15, r=8, p=3, a 16-byte salt, a 32-byte hash.
    const production = new RegistrationLockService(users, limiter, { lapseMs: 7 * DAY, pepper: Buffer.alloc(32, 7) }, () => clock);
    expect(await production.set(viewer, '123456')).to.include({ registrationLock: true });
    const first = users.rows[0].registrationLock!;
    expect(first).to.match(/^scrypt\$32768\$8\$3\$[\w-]{22}\$[\w-]{43}$/);
    expect(first).not.to.contain('123456');
    expect((await lock.admit({ ...users.rows[0], lastSeenAt: clock }, '123456')).matched).to.equal(first);
    await lock.set(viewer, '123456');
    expect(users.rows[0].registrationLock).not.to.equal(first);
    expect(await lock.set(viewer, '€'.repeat(64))).to.include({ registrationLock: true });
    expect(await lock.set(viewer, null)).to.include({ registrationLock: false });
    expect(users.rows[0].registrationLock).to.equal(null);
    for (let i = 0; i < 7; i++) await lock.set(viewer, `pin-${i}-pin`);
    expect((await failure(lock.set(viewer, 'one-more-pin'))).code).to.equal('RATE_LIMITED');
    // Removing is never limited: it costs no hash.
    expect(await lock.set(viewer, null)).to.include({ registrationLock: false });
  });

  it('a PIN of the wrong length in register is BAD_USER_INPUT before any code is checked', async () => {
    expect(await failure(register('123456', { registrationLockPin: '12345' }))).to.deep.equal({
      code: 'BAD_USER_INPUT',
      field: 'registrationLockPin',
    });
  });
});

describe('PIN hashing (unit)', () => {
  const pepper = Buffer.alloc(32, 5);

  it('verifies the right PIN only, under the pepper it was made with, whatever the stored parameters', async () => {
    const fast = { N: 1024, r: 8, p: 1 };
    const stored = await hashPin('246810', pepper, fast);
    expect(stored.startsWith('scrypt$1024$8$1$')).to.equal(true);
    expect(await verifyPin('246810', stored, pepper)).to.equal(true);
    expect(await verifyPin('246811', stored, pepper)).to.equal(false);
    expect(await verifyPin('246810', stored, Buffer.alloc(32, 6))).to.equal(false);
    // The same PIN typed as composed or decomposed characters is the same PIN.
    expect(await verifyPin('caf\u0065\u0301!!', await hashPin('caf\u00e9!!', pepper, fast), pepper)).to.equal(true);
  });

  it('treats a malformed or out-of-bounds stored hash as no match', async () => {
    const stored = await hashPin('246810', pepper, { N: 1024, r: 8, p: 1 });
    const [, , , , salt, key] = stored.split('$');
    for (const bad of [
      '',
      'bcrypt$x',
      `scrypt$1000$8$1$${salt}$${key}`,
      `scrypt$${2 ** 24}$8$1$${salt}$${key}`,
      `scrypt$1024$8$1$${salt}$${key.slice(2)}`,
      `scrypt$1024$8$1$$${key}`,
    ]) {
      expect(await verifyPin('246810', bad, pepper), bad).to.equal(false);
    }
  });
});
