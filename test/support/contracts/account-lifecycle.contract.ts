import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { FriendshipState } from '../../../src/entities/friendship.entity';
import { anImage, at, aUser, newDevice, receipts, receiptsTo, someUsers, T0, useWorld, WorldFactory } from './world';

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

/** What AccountLifecycleService relies on from an AccountLifecycleRepository and an AccountExportRepository. */
export function accountLifecycleContract(make: WorldFactory): void {
  describe('AccountLifecycleRepository and AccountExportRepository', () => {
    const w = useWorld(make);

    it("signOut forgets the device and skips the pushes waiting for it, not a notice addressed to an earlier device's cid", async () => {
      const me = await aUser(w);
      await w.pushJobs.enqueue(
        [
          { receiverUid: me.uid, kind: 'waiting', payload: '{}', expiresAt: null },
          { receiverUid: me.uid, cid: 'earlier-device', kind: 'notice', payload: '{}', expiresAt: null },
        ],
        T0,
      );
      expect(await w.lifecycle.signOut(me.uid, hash('nobody holds this'), at(1))).to.equal(true);
      expect(await w.users.findById(me.uid)).to.include({ cid: null, ukeyHash: hash('nobody holds this') });
      const due = await w.pushJobs.claimDue(at(2), 10, 60_000);
      expect(due.map((c) => c.job.kind)).to.deep.equal(['notice']);
      expect(await w.lifecycle.signOut(me.uid + 1000, hash('x'), at(1))).to.equal(false);
    });

    it('changeNumber moves the account to a free number with a new ukey; taken, or gone for no account', async () => {
      const [me, other] = await someUsers(w, 2);
      const fresh = newDevice();
      const change = { regionNum: '86', phoneNum: fresh.phoneNum, phoneHash: fresh.phoneHash, ukeyHash: hash('new ukey'), now: at(5) };
      expect(await w.lifecycle.changeNumber(me.uid, { ...change, phoneHash: other.phoneHash })).to.deep.equal({
        ok: false,
        reason: 'taken',
      });
      const done = await w.lifecycle.changeNumber(me.uid, change);
      expect(done.ok).to.equal(true);
      expect(done.ok && done.user).to.include({
        uid: me.uid,
        phoneHash: fresh.phoneHash,
        phoneNum: fresh.phoneNum,
        ukeyHash: hash('new ukey'),
      });
      expect(await w.users.findByPhoneHash(me.phoneHash)).to.equal(null);
      expect((await w.users.findByPhoneHash(fresh.phoneHash))!.uid).to.equal(me.uid);
      expect(await w.lifecycle.changeNumber(me.uid + other.uid + 1000, { ...change, phoneHash: hash('free') })).to.deep.equal({
        ok: false,
        reason: 'gone',
      });
      expect(await w.lifecycle.changeNumber(me.uid + other.uid + 1000, { ...change, phoneHash: other.phoneHash })).to.deep.equal({
        ok: false,
        reason: 'gone',
      });
      // Its own number is no other account's.
      expect((await w.lifecycle.changeNumber(me.uid, { ...change, now: at(6) })).ok).to.equal(true);
    });

    it('deleteAccount removes every row that names the account, ends what was sent to it with receipts, and answers its blobs', async () => {
      const [me, friend, asker, blocked, blocker, sender] = await someUsers(w, 6);
      await w.social.requestFriend(me.uid, friend.uid, at(1));
      await w.social.requestFriend(friend.uid, me.uid, at(2));
      await w.social.requestFriend(asker.uid, me.uid, at(3));
      await w.social.block(me.uid, blocked.uid, at(4));
      await w.social.block(blocker.uid, me.uid, at(5));
      const [pending] = await anImage(w, sender, [me]);
      const [mine] = await anImage(w, me, [friend]);
      await w.codes.replace({ phoneHash: me.phoneHash, codeHash: hash('1'), sentAt: T0, expiresAt: at(600) });
      await w.pushJobs.enqueue([{ receiverUid: me.uid, kind: 'waiting', payload: '{}', expiresAt: null }], T0);

      const deleted = await w.lifecycle.deleteAccount(me.uid, at(10), receipts);
      expect(deleted).to.include({ found: true, phoneHash: me.phoneHash });
      expect([...deleted.objectNames].sort()).to.deep.equal([pending.image.objectName, mine.image.objectName].sort());
      expect(await w.users.findById(me.uid)).to.equal(null);
      expect(await w.messages.findByKey(pending.messageKey)).to.equal(null);
      expect(await w.messages.findByKey(mine.messageKey)).to.equal(null);
      expect(uids(await w.social.listFriends(friend.uid))).to.deep.equal([]);
      expect(uids((await w.social.listRequests(asker.uid)).outgoing)).to.deep.equal([]);
      expect(await w.social.relation(blocked.uid, me.uid)).to.include({ blockedByOther: false });
      expect(uids(await w.social.listBlocked(blocker.uid))).to.deep.equal([]);
      expect(await w.codes.findByPhoneHash(me.phoneHash)).to.equal(null);
      expect(await w.pushJobs.listForReceivers(0, [me.uid], 10)).to.deep.equal([]);
      expect(await receiptsTo(w, sender.uid)).to.deep.equal([{ id: pending.id, reason: 'receiver_gone' }]);
      expect(await w.lifecycle.deleteAccount(me.uid, at(11), receipts)).to.include({ found: false, phoneHash: '' });
      // A new account never takes a uid that was ever given (a token or a push naming it must not reach it).
      expect(uids([me, friend, asker, blocked, blocker, sender])).not.to.include((await aUser(w)).uid);
    });

    it('forgetInPushes deletes the pushes that carry the phone hash, whatever their status, and answers how many', async () => {
      const [me, other] = await someUsers(w, 2);
      const naming = (kind: string) => ({
        receiverUid: other.uid,
        kind,
        payload: JSON.stringify({ sender_phone: me.phoneHash }),
        expiresAt: null,
      });
      await w.pushJobs.enqueue([naming('a'), naming('b'), { receiverUid: other.uid, kind: 'c', payload: '{}', expiresAt: null }], T0);
      const [claimed] = await w.pushJobs.claimDue(at(1), 1, 60_000);
      await w.pushJobs.record(claimed.job, { status: 'sent' }, at(2));
      expect(await w.lifecycle.forgetInPushes(me.phoneHash)).to.equal(2);
      expect((await w.pushJobs.listForReceivers(0, [other.uid], 10)).map((j) => j.kind)).to.deep.equal(['c']);
    });

    it('rowsOf answers the account with its friendships, blocks and messages both ways, and null for no account', async () => {
      const [me, friend, asked, blocked, sender] = await someUsers(w, 5);
      await w.social.requestFriend(me.uid, friend.uid, at(1));
      await w.social.requestFriend(friend.uid, me.uid, at(2));
      await w.social.requestFriend(me.uid, asked.uid, at(3));
      await w.social.block(me.uid, blocked.uid, at(4));
      const [sent] = await anImage(w, me, [friend]);
      const [received] = await anImage(w, sender, [me]);
      await anImage(w, blocked, [me], { blocked: [me] });
      const rows = (await w.exports.rowsOf(me.uid))!;
      expect(rows.user.uid).to.equal(me.uid);
      expect(rows.friendships.map((f) => [f.other, f.state, f.requesterUid])).to.deep.equal([
        [{ uid: friend.uid, nickname: friend.nickname }, FriendshipState.FRIENDS, me.uid],
        [{ uid: asked.uid, nickname: asked.nickname }, FriendshipState.REQUESTED, me.uid],
      ]);
      expect(rows.blocks.map((b) => b.other)).to.deep.equal([{ uid: blocked.uid, nickname: blocked.nickname }]);
      expect(rows.sent.map((m) => [m.id, m.other.uid, m.filetype, m.size])).to.deep.equal([[sent.id, friend.uid, 'image/jpeg', 1234]]);
      expect(rows.received.map((m) => [m.id, m.other])).to.deep.equal([[received.id, { uid: sender.uid, nickname: sender.nickname }]]);
      expect(await w.exports.rowsOf(me.uid + 1000)).to.equal(null);
    });
  });
}

const uids = (list: { uid: number }[]) => list.map((u) => u.uid);
