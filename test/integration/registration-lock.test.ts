import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { Message } from '../../src/entities/message.entity';
import { User } from '../../src/entities/user.entity';
import { ApiClient, GqlResult, httpGet, sendGroupImage, SentMessage } from '../support/client';
import { jpegBytes, nextPhone, registerUser, requestCode, TestUser } from '../support/factories';
import { FakeGetui } from '../support/fake-getui';
import { befriend, sentImage, startPushStack, stopPushStack } from '../support/fixtures';
import { STACKS, startStack, TestStack } from '../support/stack';
import { eventually as eventuallyWithin } from '../support/wait';

/** Generous: two shared cores may be busy with other work; it returns as soon as the check holds. */
const eventually = (check: () => unknown) => eventuallyWithin(check, 15_000);

const DAY = 86_400_000;
const PIN = '493-017-88';
const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { uid ukey phoneHash user { publicKey } } }';
const SET_LOCK = 'mutation($pin: String) { setRegistrationLock(pin: $pin) { whoCanSendMe discoverable registrationLock } }';

type Jwk = { kty: string; crv: string; x: string };
type Registered = { register: { uid: number; ukey: string; phoneHash: string; user: { publicKey: string | null } } };

/** What an app does with a receipt: rebuild the signed string from the push and check it with the published key. */
function receiptHolds(jwk: Jwk, push: { message_id: number; reason: string; destroyed_at: string; receipt: string }): boolean {
  const signed = `glimpse-receipt-v1|${push.message_id}|${push.reason}|${push.destroyed_at}`;
  return verify(null, Buffer.from(signed), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(push.receipt, 'base64url'));
}

const x25519 = () => Buffer.from(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
const errorOf = (r: GqlResult) => r.errors?.[0]?.extensions ?? {};

for (const kind of STACKS) {
  describe(`registration lock and moving an account [${kind}]`, function () {
    this.timeout(60_000);
    let fake: FakeGetui;
    let stack: TestStack;
    let api: ApiClient;

    before(async () => ({ fake, stack, api } = await startPushStack(kind)));
    after(() => stopPushStack({ fake, stack }));

    const db = () => stack.server.container.db;
    const gql = (token: string, query: string, variables: Record<string, unknown> = {}) => api.gql(query, variables, token);
    const pushesTo = (cid: string) => fake.pushes.filter((p) => p.cid === cid).map((p) => JSON.parse(p.transmission));
    const lastSeen = async (uid: number) => (await db().getRepository(User).findOneByOrFail({ uid })).lastSeenAt;
    const setLastSeen = (uid: number, agoMs: number) =>
      db()
        .getRepository(User)
        .update({ uid }, { lastSeenAt: new Date(Date.now() - agoMs) });
    const send = (from: TestUser, to: TestUser): Promise<SentMessage> => sentImage(api, from, to, jpegBytes(4000));
    let devices = 0;
    /** A register of the owner's number from another device, as a thief with the SMS would. */
    const registerAgain = (owner: TestUser, fields: Record<string, unknown>) =>
      api.gql<Registered>(REGISTER, {
        input: { cid: `thief-device-${++devices}`, regionNum: owner.regionNum, phoneNum: owner.phoneNum, nickname: 'Someone', ...fields },
      });

    /** The owner, friends with `sender`, with a lock and whoCanSendMe FRIENDS set, and two images from `sender` pending. */
    async function lockedOwner() {
      const [owner, sender] = [await registerUser(api, { publicKey: x25519() }), await registerUser(api)];
      await befriend(api, owner, sender);
      await gql(owner.token, 'mutation { updateSettings(input: { whoCanSendMe: FRIENDS }) { whoCanSendMe } }');
      const set = await gql(owner.token, SET_LOCK, { pin: PIN });
      expect(set.data!.setRegistrationLock).to.deep.equal({ whoCanSendMe: 'FRIENDS', discoverable: true, registrationLock: true });
      const pending = [await send(sender, owner), await send(sender, owner)];
      return { owner, sender, pending };
    }

    it('a takeover with the code alone fails and leaves the account, its token and its pending images; the same code then moves it with the PIN', async () => {
      const { owner, pending } = await lockedOwner();
      const code = await requestCode(api, owner.regionNum, owner.phoneNum);
      // Whether a number is locked is told only to whoever holds its code.
      expect(errorOf(await registerAgain(owner, { verificationCode: code === '000000' ? '000001' : '000000' }))).to.include({
        code: 'BAD_USER_INPUT',
        field: 'verificationCode',
      });
      const missing = await registerAgain(owner, { verificationCode: code });
      expect(errorOf(missing)).to.deep.equal({ code: 'REGISTRATION_LOCKED', field: 'registrationLockPin', reason: 'PIN_MISSING' });
      expect(missing.data).to.equal(null);
      expect(errorOf(await registerAgain(owner, { verificationCode: code, registrationLockPin: 'not-the-pin' }))).to.include({
        code: 'REGISTRATION_LOCKED',
        reason: 'PIN_WRONG',
      });

      expect((await gql(owner.token, '{ me { uid nickname } }')).data!.me).to.deep.equal({ uid: owner.uid, nickname: owner.nickname });
      const images = (await gql(owner.token, '{ images { messageKey exist } }')).data!.images;
      expect(images).to.deep.equal(pending.map((m) => ({ messageKey: m.messageKey, exist: true })));
      expect(await stack.blobNames()).to.include.members(pending.map((m) => m.messageKey));
      expect(await db().getRepository(User).findOneByOrFail({ uid: owner.uid })).to.include({ cid: owner.cid, nickname: owner.nickname });

      // The code was not used up by the refused tries.
      const moved = await registerAgain(owner, { verificationCode: code, registrationLockPin: PIN });
      expect(moved.errors, JSON.stringify(moved.errors)).to.equal(undefined);
      expect(moved.data!.register.uid).to.equal(owner.uid);
    });

    it('with the PIN it moves: the old token stops at once, the old device is told, pending blobs go and their senders get receipts that verify', async () => {
      const { owner, sender, pending } = await lockedOwner();
      // A group image that another member still has: only the owner's message ends with the move.
      const third = await registerUser(api);
      await befriend(api, sender, third);
      const group = (
        await gql(sender.token, 'mutation($m: [Int!]!) { createGroup(name: "g", memberUids: $m) { id } }', { m: [owner.uid, third.uid] })
      ).data!.createGroup;
      const groupSend = (await sendGroupImage(api, sender.token, group.id, jpegBytes(5000))).data!.sendGroupImage;
      const ownersGroupMessage = groupSend.find((m) => m.receiverUid === owner.uid)!;
      const groupBlob = (
        await db()
          .getRepository(Message)
          .findOneOrFail({ where: { id: ownersGroupMessage.id }, relations: { image: true } })
      ).image.objectName;

      const code = await requestCode(api, owner.regionNum, owner.phoneNum);
      const moved = await registerAgain(owner, { verificationCode: code, registrationLockPin: PIN, cid: 'new-device-of-the-owner' });
      expect(moved.errors, JSON.stringify(moved.errors)).to.equal(undefined);
      const r = moved.data!.register;
      const newToken = `${r.phoneHash}.${r.ukey}`;

      expect(errorOf(await gql(owner.token, '{ me { uid } }')).code).to.equal('UNAUTHENTICATED');
      expect((await gql(newToken, '{ me { uid publicKey } }')).data!.me).to.deep.equal({ uid: owner.uid, publicKey: null });
      expect(r.user.publicKey).to.equal(null);

      // Nothing sent before the move can be read by the new device; the blobs are gone at once.
      expect((await gql(newToken, '{ images { messageKey } }')).data!.images).to.deep.equal([]);
      const blobs = await stack.blobNames();
      for (const m of pending) expect(blobs).not.to.include(m.messageKey);
      const ended = await gql(newToken, 'query($k: String!) { image(messageKey: $k) { exist downloadUrl } }', {
        k: ownersGroupMessage.messageKey,
      });
      expect(ended.data!.image).to.deep.equal({ exist: false, downloadUrl: null });
      // The group image stays for the member who has not opened it.
      expect(blobs).to.include(groupBlob);
      const thirds = (await gql(third.token, '{ images { messageKey downloadUrl } }')).data!.images;
      expect(thirds).to.have.length(1);
      expect((await httpGet(thirds[0].downloadUrl)).status).to.equal(200);

      // Friends, settings and the lock stay with the account.
      expect((await gql(newToken, '{ friends { uid } }')).data!.friends).to.deep.equal([{ uid: sender.uid }]);
      expect((await gql(newToken, '{ settings { whoCanSendMe discoverable registrationLock } }')).data!.settings).to.deep.equal({
        whoCanSendMe: 'FRIENDS',
        discoverable: true,
        registrationLock: true,
      });
      const groups = (await gql(newToken, '{ groups { id } }')).data!.groups;
      expect(groups).to.deep.equal([{ id: group.id }]);

      // The old device hears of it at its old cid; the new device hears nothing of the kind.
      await eventually(() => expect(pushesTo(owner.cid).filter((p) => p.event === 'account_moved')).to.have.length(1));
      const notice = pushesTo(owner.cid).find((p) => p.event === 'account_moved');
      expect(Object.keys(notice)).to.deep.equal(['event', 'moved_at']);
      expect(new Date(notice.moved_at).toISOString()).to.equal(notice.moved_at);
      expect(pushesTo('new-device-of-the-owner').filter((p) => p.event === 'account_moved')).to.deep.equal([]);

      const jwk = JSON.parse((await httpGet(`${stack.url}/.well-known/glimpse-receipt-key`)).body.toString()) as Jwk;
      const receiptsFor = (ids: number[]) =>
        pushesTo(sender.cid).filter((p) => p.event === 'image_destroyed' && ids.includes(p.message_id));
      await eventually(() => expect(receiptsFor(pending.map((m) => m.id))).to.have.length(2));
      for (const receipt of receiptsFor(pending.map((m) => m.id))) {
        expect(receipt).to.include({ reason: 'account_moved' });
        expect(receiptHolds(jwk, receipt)).to.equal(true);
        expect(receiptHolds(jwk, { ...receipt, reason: 'viewed' })).to.equal(false);
      }
      const sent = (await gql(sender.token, '{ sentImages { id status destroyedAt } }')).data!.sentImages as {
        id: number;
        status: string;
        destroyedAt: string;
      }[];
      for (const m of pending)
        expect(sent.find((s) => s.id === m.id)).to.deep.include({ status: 'EXPIRED', destroyedAt: receiptsFor([m.id])[0].destroyed_at });

      // The group image's key goes when its last member is done: then both members' receipts.
      expect(receiptsFor([ownersGroupMessage.id])).to.deep.equal([]);
      await gql(third.token, 'mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: thirds[0].messageKey });
      await eventually(() => expect(receiptsFor(groupSend.map((m) => m.id))).to.have.length(2));
      const groupReceipts = receiptsFor(groupSend.map((m) => m.id));
      expect(groupReceipts.find((p) => p.message_id === ownersGroupMessage.id)).to.include({ reason: 'account_moved' });
      expect(groupReceipts.find((p) => p.message_id !== ownersGroupMessage.id)).to.include({ reason: 'viewed' });
      expect(groupReceipts.every((p) => receiptHolds(jwk, p))).to.equal(true);
      expect(fake.violations).to.deep.equal([]);
    });

    it('a new device may bring its own publicKey; the old one is never kept', async () => {
      const { owner } = await lockedOwner();
      const key = x25519();
      const moved = await registerAgain(owner, {
        verificationCode: await requestCode(api, owner.regionNum, owner.phoneNum),
        registrationLockPin: PIN,
        publicKey: key,
      });
      expect(moved.data!.register.user.publicKey).to.equal(key);
    });

    it('the lock lapses once the account has not been seen for REGISTRATION_LOCK_DAYS; a request renews it at most once an hour', async () => {
      const { owner, pending } = await lockedOwner();
      expect(stack.config.registrationLockDays).to.equal(7);
      // Seen within the hour: a request writes nothing.
      const seen = (await lastSeen(owner.uid))!;
      await gql(owner.token, '{ me { uid } }');
      expect((await lastSeen(owner.uid))!.getTime()).to.equal(seen.getTime());
      // Last seen two hours ago: the next request records it.
      await setLastSeen(owner.uid, 2 * 3_600_000);
      const before = Date.now();
      await gql(owner.token, '{ me { uid } }');
      expect((await lastSeen(owner.uid))!.getTime()).to.be.at.least(before - 1000);

      const code = await requestCode(api, owner.regionNum, owner.phoneNum);
      await setLastSeen(owner.uid, 6 * DAY);
      expect(errorOf(await registerAgain(owner, { verificationCode: code })).code).to.equal('REGISTRATION_LOCKED');
      await setLastSeen(owner.uid, 8 * DAY);
      const moved = await registerAgain(owner, { verificationCode: code });
      expect(moved.errors, JSON.stringify(moved.errors)).to.equal(undefined);
      expect(moved.data!.register.uid).to.equal(owner.uid);
      expect(errorOf(await gql(owner.token, '{ me { uid } }')).code).to.equal('UNAUTHENTICATED');
      // A lapsed lock still protects what was pending, and stays set for the new device.
      const blobs = await stack.blobNames();
      for (const m of pending) expect(blobs).not.to.include(m.messageKey);
      await eventually(() => expect(pushesTo(owner.cid).filter((p) => p.event === 'account_moved')).to.have.length(1));
      const newToken = `${moved.data!.register.phoneHash}.${moved.data!.register.ukey}`;
      expect((await gql(newToken, '{ settings { registrationLock } }')).data!.settings.registrationLock).to.equal(true);
    });

    it('setRegistrationLock: 6 to 64 characters, stored only as a scrypt hash, null removes it; a number without a lock moves with its code', async () => {
      const owner = await registerUser(api);
      expect((await gql(owner.token, '{ settings { registrationLock } }')).data!.settings.registrationLock).to.equal(false);
      for (const bad of ['12345', 'x'.repeat(65)]) {
        const refused = await gql(owner.token, SET_LOCK, { pin: bad });
        expect(errorOf(refused)).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'pin' });
        expect(refused.errors![0].message).not.to.contain(bad);
      }
      expect((await gql(owner.token, SET_LOCK, { pin: '123456' })).data!.setRegistrationLock.registrationLock).to.equal(true);
      const stored = (await db().getRepository(User).findOneByOrFail({ uid: owner.uid })).registrationLock!;
      expect(stored).to.match(/^scrypt\$32768\$8\$3\$/);
      expect(stored).not.to.contain('123456');
      expect((await gql(owner.token, SET_LOCK, { pin: null })).data!.setRegistrationLock.registrationLock).to.equal(false);
      expect((await db().getRepository(User).findOneByOrFail({ uid: owner.uid })).registrationLock).to.equal(null);
      expect(errorOf(await api.gql(SET_LOCK, { pin: '123456' })).code).to.equal('UNAUTHENTICATED');

      const moved = await registerAgain(owner, { verificationCode: await requestCode(api, owner.regionNum, owner.phoneNum) });
      expect(moved.data!.register.uid).to.equal(owner.uid);
      await eventually(() => expect(pushesTo(owner.cid).filter((p) => p.event === 'account_moved')).to.have.length(1));
    });
  });

  describe(`registration lock PIN tries are limited per account [${kind}]`, function () {
    this.timeout(60_000);
    const victim = { regionNum: '86', phoneNum: '13800000123' };
    const other = { regionNum: '86', phoneNum: '13800000124' };
    let stack: TestStack;
    let api: ApiClient;

    before(async () => {
      // Real limits, and test numbers (fixed codes, no resend wait) so that only the PIN limit is in play.
      stack = await startStack(kind, { RATE_LIMIT_MULTIPLIER: '1', SMS_TEST_NUMBERS: '+8613800000123=246810,+8613800000124=135790' });
      api = new ApiClient(stack.url);
    });
    after(async () => {
      await stack?.stop();
    });

    const register = (phone: typeof victim, code: string, pin?: string) =>
      api.gql<Registered>(REGISTER, {
        input: {
          cid: `cid-${nextPhone().phoneNum}`,
          ...phone,
          nickname: 'n',
          verificationCode: code,
          ...(pin ? { registrationLockPin: pin } : {}),
        },
      });
    const lock = async (phone: typeof victim, code: string) => {
      const r = (await register(phone, code)).data!.register;
      await api.gql(SET_LOCK, { pin: PIN }, `${r.phoneHash}.${r.ukey}`);
      return r;
    };

    it('5 wrong PINs a day, then RATE_LIMITED with retryAfter even for the right PIN; another account is not affected', async () => {
      const owner = await lock(victim, '246810');
      await lock(other, '135790');
      expect(errorOf(await register(victim, '246810')).reason).to.equal('PIN_MISSING');
      for (let i = 0; i < 5; i++)
        expect(errorOf(await register(victim, '246810', `wrong-pin-${i}`)).reason, `try ${i + 1}`).to.equal('PIN_WRONG');
      const limited = errorOf(await register(victim, '246810', PIN));
      expect(limited.code).to.equal('RATE_LIMITED');
      expect(limited.retryAfter).to.be.within(86_000, 86_400);
      const still = await api.gql('{ me { uid } }', {}, `${owner.phoneHash}.${owner.ukey}`);
      expect(still.data!.me.uid).to.equal(owner.uid);
      const otherMoved = await register(other, '135790', PIN);
      expect(otherMoved.errors, JSON.stringify(otherMoved.errors)).to.equal(undefined);
    });
  });
}
