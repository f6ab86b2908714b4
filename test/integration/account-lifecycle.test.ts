import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { Group } from '../../src/entities/group.entity';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { PushJob } from '../../src/entities/push-job.entity';
import { User } from '../../src/entities/user.entity';
import { ApiClient, GqlResult, httpGet, sendGroupImage, SentMessage } from '../support/client';
import { jpegBytes, nextPhone, registerUser, requestCode, TestUser } from '../support/factories';
import { FakeGetui } from '../support/fake-getui';
import { befriend as befriendVia, REQUEST_FRIEND, sentImage, someUsers, startPushStack, stopPushStack } from '../support/fixtures';
import { STACKS, TestStack } from '../support/stack';
import { rowsNaming } from '../support/uid-columns';
import { eventually as eventuallyWithin } from '../support/wait';

const eventually = (check: () => unknown) => eventuallyWithin(check, 15_000);
type Jwk = { kty: string; crv: string; x: string };
const errorOf = (r: GqlResult) => r.errors?.[0]?.extensions ?? {};
const x25519 = () => Buffer.from(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');

function receiptHolds(jwk: Jwk, push: { message_id: number; reason: string; destroyed_at: string; receipt: string }): boolean {
  const signed = `glimpse-receipt-v1|${push.message_id}|${push.reason}|${push.destroyed_at}`;
  return verify(null, Buffer.from(signed), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(push.receipt, 'base64url'));
}

for (const kind of STACKS) {
  describe(`the account's life: sign out, change number, delete, export [${kind}]`, function () {
    this.timeout(90_000);
    let fake: FakeGetui;
    let stack: TestStack;
    let api: ApiClient;

    before(async () => ({ fake, stack, api } = await startPushStack(kind)));
    after(() => stopPushStack({ fake, stack }));

    const db = () => stack.server.container.db;
    const gql = (token: string, query: string, variables: Record<string, unknown> = {}) => api.gql(query, variables, token);
    const ok = async (token: string, query: string, variables: Record<string, unknown> = {}) => {
      const r = await gql(token, query, variables);
      expect(r.errors, `${query}: ${JSON.stringify(r.errors)}`).to.equal(undefined);
      return r.data!;
    };
    const befriend = (a: TestUser, b: TestUser) => befriendVia(api, a, b);
    const send = (from: TestUser, to: TestUser): Promise<SentMessage> => sentImage(api, from, to);
    /** Everything that ties one user to others: friends, a request each way, a block each way. */
    const surround = async (
      who: TestUser,
      r: { friends: TestUser[]; asker: TestUser; asked: TestUser; blocked: TestUser; blocker: TestUser },
    ) => {
      for (const friend of r.friends) await befriend(who, friend);
      await ok(r.asker.token, REQUEST_FRIEND, { u: who.uid });
      await ok(who.token, REQUEST_FRIEND, { u: r.asked.uid });
      await ok(who.token, 'mutation($u: Int!) { block(uid: $u) }', { u: r.blocked.uid });
      await ok(r.blocker.token, 'mutation($u: Int!) { block(uid: $u) }', { u: who.uid });
    };
    const groupSend = async (from: TestUser, groupId: number) => {
      const res = await sendGroupImage(api, from.token, groupId, jpegBytes(3000));
      expect(res.errors, JSON.stringify(res.errors)).to.equal(undefined);
      return res.data!.sendGroupImage;
    };
    const createGroup = async (owner: TestUser, members: TestUser[]) =>
      (await ok(owner.token, 'mutation($m: [Int!]!) { createGroup(name: "g", memberUids: $m) { id } }', { m: members.map((u) => u.uid) }))
        .createGroup.id as number;
    const blobOf = async (messageId: number) =>
      (
        await db()
          .getRepository(Message)
          .findOneOrFail({ where: { id: messageId }, relations: { image: true } })
      ).image.objectName;
    const pushesTo = (cid: string) => fake.pushes.filter((p) => p.cid === cid).map((p) => JSON.parse(p.transmission));
    /** A push waiting in the outbox for the user's device, not yet due (so no dispatcher takes it meanwhile). */
    const waitingPush = async (uid: number, cid: string | null = null) => {
      const due = new Date(Date.now() + 3_600_000);
      const [job] = await stack.server.container.pushJobs.enqueue(
        [{ receiverUid: uid, cid, kind: 'friend_request', payload: '{"event":"friend_request"}', expiresAt: null }],
        due,
      );
      return job.id;
    };
    const registerAgain = async (user: TestUser, cid = 'another-device') => {
      const code = await requestCode(api, user.regionNum, user.phoneNum);
      return api.gql<{ register: { uid: number; ukey: string; phoneHash: string } }>(
        'mutation($input: RegisterInput!) { register(input: $input) { uid ukey phoneHash } }',
        { input: { cid, regionNum: user.regionNum, phoneNum: user.phoneNum, nickname: 'again', verificationCode: code } },
      );
    };

    it('signOut: the token stops at once, the cid is cleared and waiting pushes are skipped; the account stays for a later register', async () => {
      const [owner, friend] = [await registerUser(api), await registerUser(api)];
      await befriend(owner, friend);
      const pending = await send(friend, owner);
      const toDevice = await waitingPush(owner.uid);
      const toOldDevice = await waitingPush(owner.uid, 'an-earlier-device');

      expect(await ok(owner.token, 'mutation { signOut }')).to.deep.equal({ signOut: true });
      for (const q of ['{ me { uid } }', 'mutation { signOut }', 'mutation { deleteAccount }'])
        expect(errorOf(await gql(owner.token, q)).code, q).to.equal('UNAUTHENTICATED');
      const row = await db().getRepository(User).findOneByOrFail({ uid: owner.uid });
      expect(row.cid).to.equal(null);
      const jobs = await db().getRepository(PushJob).findBy({ receiverUid: owner.uid });
      expect(jobs.find((j) => j.id === toDevice)).to.include({ status: 'skipped', lastError: 'the receiver signed out' });
      expect(jobs.find((j) => j.id === toOldDevice)).to.include({ status: 'pending' });

      const back = await registerAgain(owner, owner.cid);
      expect(back.errors, JSON.stringify(back.errors)).to.equal(undefined);
      expect(back.data!.register.uid).to.equal(owner.uid);
      const token = `${back.data!.register.phoneHash}.${back.data!.register.ukey}`;
      expect((await ok(token, '{ friends { uid } }')).friends).to.deep.equal([{ uid: friend.uid }]);
      // Coming back is a register like any other: what was pending before is not handed over.
      expect((await ok(token, '{ images { messageKey } }')).images).to.deep.equal([]);
      expect(await stack.blobNames()).not.to.include(pending.messageKey);
    });

    it('changeNumber: same uid, friends, groups, settings and pending images; a new token; friends see the new hash', async () => {
      const [owner, friend, other] = [await registerUser(api), await registerUser(api), await registerUser(api)];
      await befriend(owner, friend);
      const groupId = await createGroup(owner, [friend]);
      await ok(owner.token, 'mutation { updateSettings(input: { whoCanSendMe: FRIENDS, discoverable: false }) { whoCanSendMe } }');
      const pending = await send(friend, owner);
      const fresh = nextPhone();
      const CHANGE =
        'mutation($input: ChangeNumberInput!) { changeNumber(input: $input) { uid ukey phoneHash user { uid nickname phoneHash } } }';

      // A number that has an account, this account's own number, a bad number, a wrong code.
      const otherCode = await requestCode(api, other.regionNum, other.phoneNum);
      const taken = await gql(owner.token, CHANGE, {
        input: { regionNum: other.regionNum, phoneNum: other.phoneNum, verificationCode: otherCode },
      });
      expect(errorOf(taken)).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'phoneNum' });
      expect(
        errorOf(
          await gql(owner.token, CHANGE, { input: { regionNum: owner.regionNum, phoneNum: owner.phoneNum, verificationCode: '123456' } }),
        ),
      ).to.deep.equal({ code: 'BAD_USER_INPUT', field: 'phoneNum' });
      expect(
        errorOf(await gql(owner.token, CHANGE, { input: { regionNum: '86', phoneNum: '12', verificationCode: '123456' } })).field,
      ).to.equal('phoneNum');
      const code = await requestCode(api, fresh.regionNum, fresh.phoneNum);
      expect(
        errorOf(await gql(owner.token, CHANGE, { input: { ...fresh, verificationCode: code === '000000' ? '000001' : '000000' } })),
      ).to.include({ code: 'BAD_USER_INPUT', field: 'verificationCode' });

      const changed = (await ok(owner.token, CHANGE, { input: { ...fresh, verificationCode: code } })).changeNumber;
      expect(changed.uid).to.equal(owner.uid);
      expect(changed.phoneHash).not.to.equal(owner.phoneHash);
      expect(changed.user).to.deep.equal({ uid: owner.uid, nickname: owner.nickname, phoneHash: changed.phoneHash });
      for (const q of ['{ me { uid } }', CHANGE])
        expect(errorOf(await gql(owner.token, q, { input: { ...fresh, verificationCode: code } })).code, q).to.equal('UNAUTHENTICATED');
      const token = `${changed.phoneHash}.${changed.ukey}`;
      expect((await ok(token, '{ me { uid phoneHash } }')).me).to.deep.equal({ uid: owner.uid, phoneHash: changed.phoneHash });
      expect((await ok(token, '{ friends { uid } }')).friends).to.deep.equal([{ uid: friend.uid }]);
      expect((await ok(token, '{ groups { id } }')).groups).to.deep.equal([{ id: groupId }]);
      expect((await ok(token, '{ settings { whoCanSendMe discoverable } }')).settings).to.deep.equal({
        whoCanSendMe: 'FRIENDS',
        discoverable: false,
      });
      const images = (await ok(token, '{ images { messageKey downloadUrl } }')).images;
      expect(images.map((m: { messageKey: string }) => m.messageKey)).to.deep.equal([pending.messageKey]);
      expect((await httpGet(images[0].downloadUrl)).status).to.equal(200);
      const seenByFriend = (await ok(friend.token, '{ friends { uid phoneHash } }')).friends;
      expect(seenByFriend).to.deep.equal([{ uid: owner.uid, phoneHash: changed.phoneHash }]);

      // The old number is free: registering it makes a new account.
      const reused = await registerUser(api, { regionNum: owner.regionNum, phoneNum: owner.phoneNum });
      expect(reused.uid).not.to.equal(owner.uid);
      expect((await ok(reused.token, '{ friends { uid } }')).friends).to.deep.equal([]);
    });

    it('deleteAccount: no row names the uid, its blobs are gone, groups pass on or go, and the senders of its images get receipts that verify', async () => {
      const [victim, a, b, c, d, e, f, m] = await someUsers(api, 8);
      await surround(victim, { friends: [a, b], asker: c, asked: d, blocked: e, blocker: f });
      await befriend(a, m);
      const passesOn = await createGroup(victim, [a, b]);
      const emptied = await createGroup(victim, [a]);
      await ok(a.token, 'mutation($g: Int!, $u: Int!) { removeGroupMember(groupId: $g, uid: $u) { id } }', { g: emptied, u: a.uid });
      const othersGroup = await createGroup(a, [victim, m]);
      await ok(victim.token, 'mutation($k: String!) { setPublicKey(publicKey: $k) { uid } }', { k: x25519() });
      await ok(victim.token, 'mutation { setRegistrationLock(pin: "246813579") { registrationLock } }');

      const toVictim = [await send(a, victim), await send(a, victim)];
      const groupToVictim = await groupSend(a, othersGroup);
      const victimsCopy = groupToVictim.find((x) => x.receiverUid === victim.uid)!;
      const membersCopy = groupToVictim.find((x) => x.receiverUid === m.uid)!;
      const sharedBlob = await blobOf(victimsCopy.id);
      const fromVictim = await send(victim, b);
      const groupFromVictim = await groupSend(victim, passesOn);
      const groupFromVictimBlob = await blobOf(groupFromVictim[0].id);
      const viewed = await send(b, victim);
      await ok(victim.token, 'mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: viewed.messageKey });
      await waitingPush(victim.uid);
      await requestCode(api, victim.regionNum, victim.phoneNum);
      expect(Object.keys(await rowsNaming(db(), victim.uid, victim.phoneHash)).length).to.be.greaterThan(10);
      // Pushes to others carry the sender's phone hash (friend requests, images).
      const pushesNaming = () =>
        db()
          .getRepository(PushJob)
          .createQueryBuilder('j')
          .where('j.payload LIKE :p', { p: `%${victim.phoneHash}%` })
          .getCount();
      expect(await pushesNaming()).to.be.greaterThan(0);

      expect(await ok(victim.token, 'mutation { deleteAccount }')).to.deep.equal({ deleteAccount: true });
      for (const q of ['{ me { uid } }', 'mutation { deleteAccount }', 'mutation { signOut }'])
        expect(errorOf(await gql(victim.token, q)).code, q).to.equal('UNAUTHENTICATED');

      expect(await rowsNaming(db(), victim.uid, victim.phoneHash)).to.deep.equal({});
      expect(await pushesNaming()).to.equal(0);
      const blobs = await stack.blobNames();
      for (const name of [...toVictim.map((x) => x.messageKey), fromVictim.messageKey, groupFromVictimBlob]) {
        expect(blobs).not.to.include(name);
        // The image's row, and its key with it, went too.
        expect(await db().getRepository(Image).findOneBy({ objectName: name })).to.equal(null);
      }
      // The group image another member has not opened stays for that member.
      expect(blobs).to.include(sharedBlob);
      const membersImages = (await ok(m.token, '{ images { messageKey downloadUrl } }')).images;
      expect(membersImages.map((x: { messageKey: string }) => x.messageKey)).to.deep.equal([membersCopy.messageKey]);
      expect((await httpGet(membersImages[0].downloadUrl)).status).to.equal(200);
      // What the account sent is gone for its receivers too.
      expect((await ok(b.token, '{ images { messageKey } }')).images).to.deep.equal([]);
      expect((await ok(a.token, '{ images { messageKey } }')).images).to.deep.equal([]);

      const groups = await db().getRepository(Group).findBy({});
      expect(groups.find((g) => g.id === emptied)).to.equal(undefined);
      expect(groups.find((g) => g.id === passesOn)).to.include({ ownerUid: a.uid });
      expect((await ok(b.token, '{ groups { id owner { uid } members { uid } } }')).groups).to.deep.equal([
        { id: passesOn, owner: { uid: a.uid }, members: [{ uid: a.uid }, { uid: b.uid }] },
      ]);
      expect((await ok(a.token, '{ friends { uid } }')).friends).to.deep.equal([{ uid: m.uid }]);
      expect((await ok(c.token, '{ friendRequests { outgoing { uid } } }')).friendRequests.outgoing).to.deep.equal([]);

      const jwk = JSON.parse((await httpGet(`${stack.url}/.well-known/glimpse-receipt-key`)).body.toString()) as Jwk;
      const destroyed = [...toVictim, victimsCopy].map((x) => x.id);
      const receipts = () => pushesTo(a.cid).filter((p) => p.event === 'image_destroyed' && destroyed.includes(p.message_id));
      await eventually(() => expect(receipts()).to.have.length(3));
      for (const r of receipts()) {
        expect(r).to.include({ reason: 'receiver_gone' });
        expect(receiptHolds(jwk, r)).to.equal(true);
        expect(receiptHolds(jwk, { ...r, reason: 'viewed' })).to.equal(false);
      }
      expect(fake.violations).to.deep.equal([]);

      // The number is free again: registering it makes a new, empty account.
      const again = await registerUser(api, { regionNum: victim.regionNum, phoneNum: victim.phoneNum });
      expect(again.uid).not.to.equal(victim.uid);
      expect((await ok(again.token, '{ settings { registrationLock } }')).settings.registrationLock).to.equal(false);
    });

    it('exportMyData: every kind of data held about the viewer, and of anyone else only uid and nickname', async () => {
      const [viewer, friend, asker, asked, blocked, blocker, member] = await someUsers(api, 7);
      await surround(viewer, { friends: [friend], asker, asked, blocked, blocker });
      await befriend(friend, member);
      const groupId = await createGroup(friend, [viewer, member]);
      const publicKey = x25519();
      await ok(viewer.token, 'mutation($k: String!) { setPublicKey(publicKey: $k) { uid } }', { k: publicKey });
      await ok(viewer.token, 'mutation { setRegistrationLock(pin: "135792468") { registrationLock } }');
      const sent = await send(viewer, friend);
      const received = await send(friend, viewer);
      const toBlocker = await api.sendImage(viewer.token, blocker.uid, jpegBytes(2000));
      const fromBlocked = await api.sendImage(blocked.token, viewer.uid, jpegBytes(2000));
      expect(toBlocker.errors).to.equal(undefined);
      expect(fromBlocked.errors).to.equal(undefined);
      await ok(viewer.token, 'mutation { updateSettings(input: { whoCanSendMe: FRIENDS }) { whoCanSendMe } }');

      const doc = (await ok(viewer.token, '{ exportMyData }')).exportMyData;
      expect(doc.profile).to.deep.include({
        uid: viewer.uid,
        nickname: viewer.nickname,
        phoneNumber: `+${viewer.regionNum}${viewer.phoneNum}`,
        phoneHash: viewer.phoneHash,
        pushClientId: viewer.cid,
      });
      expect(doc.settings).to.deep.equal({ whoCanSendMe: 'FRIENDS', discoverable: true, registrationLock: true });
      expect(doc.publicKey).to.equal(publicKey);
      const uids = (list: { uid: number }[]) => list.map((x) => x.uid);
      expect(uids(doc.friends)).to.deep.equal([friend.uid]);
      expect(uids(doc.friendRequests.incoming)).to.deep.equal([asker.uid]);
      expect(uids(doc.friendRequests.outgoing)).to.deep.equal([asked.uid]);
      expect(uids(doc.blocked)).to.deep.equal([blocked.uid]);
      expect(doc.groups).to.have.length(1);
      expect(doc.groups[0]).to.deep.include({ id: groupId, owner: { uid: friend.uid, nickname: friend.nickname } });
      expect(doc.groups[0].members).to.deep.equal([friend, viewer, member].map((u) => ({ uid: u.uid, nickname: u.nickname })));
      expect(doc.messagesSent.map((x: { id: number }) => x.id)).to.deep.equal([sent.id, toBlocker.data!.sendImage.id]);
      expect(doc.messagesSent[0]).to.deep.include({
        receiver: { uid: friend.uid, nickname: friend.nickname },
        status: 'PENDING',
        filetype: 'image/jpeg',
        size: 3000,
      });
      // A send to someone who blocked the viewer looks like any image not yet opened.
      expect(doc.messagesSent[1]).to.deep.include({ status: 'PENDING', destroyedAt: null });
      expect(doc.messagesReceived.map((x: { id: number }) => x.id)).to.deep.equal([received.id]);
      expect(doc.messagesReceived[0]).to.deep.include({
        sender: { uid: friend.uid, nickname: friend.nickname },
        exist: true,
        endReason: null,
      });

      // Of anyone else: uid and nickname, nothing more, anywhere in the document.
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) return v.forEach(walk);
        if (v && typeof v === 'object') {
          const o = v as Record<string, unknown>;
          if (typeof o.uid === 'number' && o.uid !== viewer.uid)
            expect(['nickname,uid', 'at,nickname,uid', 'nickname,since,uid'], JSON.stringify(o)).to.include(
              Object.keys(o).sort().join(','),
            );
          Object.values(o).forEach(walk);
        }
      };
      walk(doc);
      const text = JSON.stringify(doc);
      for (const other of [friend, asker, asked, blocked, blocker, member]) {
        expect(text).not.to.contain(other.phoneHash);
        expect(text).not.to.contain(other.phoneNum);
      }
      const row = await db().getRepository(User).findOneByOrFail({ uid: viewer.uid });
      for (const secret of [row.ukeyHash, row.registrationLock!, sent.messageKey, received.messageKey, viewer.ukey])
        expect(text).not.to.contain(secret);
      const image = (
        await db()
          .getRepository(Message)
          .findOneOrFail({ where: { id: received.id }, relations: { image: true } })
      ).image;
      for (const secret of [image.sha256, image.objectName, image.wrappedKey!]) expect(text).not.to.contain(secret);
      expect(errorOf(await api.gql('{ exportMyData }')).code).to.equal('UNAUTHENTICATED');
    });
  });
}
