import { expect } from 'chai';
import { WhoCanSend } from '../../../src/entities/user.entity';
import type { AccountMove } from '../../../src/repositories/user.repository';
import { anImage, at, aUser, newDevice, receipts, receiptsTo, someUsers, T0, useWorld, WorldFactory } from './world';

/** What AccountService and RegistrationLockService rely on from a UserRepository. */
export function userRepositoryContract(make: WorldFactory): void {
  describe('UserRepository', () => {
    const w = useWorld(make);

    it('registerDevice creates a new phone as an account with the defaults, found by id, ids and phone hash', async () => {
      const reg = newDevice({ publicKey: 'A'.repeat(43) + '=' });
      const { user, created, endedImages } = await w.users.registerDevice(reg);
      expect(created).to.equal(true);
      expect(endedImages).to.deep.equal([]);
      const expected = {
        phoneHash: reg.phoneHash,
        regionNum: '86',
        phoneNum: reg.phoneNum,
        nickname: reg.nickname,
        cid: reg.cid,
        ukeyHash: reg.ukeyHash,
        publicKey: reg.publicKey,
        whoCanSendMe: WhoCanSend.EVERYONE,
        discoverable: true,
        registrationLock: null,
      };
      expect(user).to.include(expected);
      expect(user.uid).to.be.a('number');
      for (const found of [await w.users.findById(user.uid), await w.users.findByPhoneHash(reg.phoneHash)]) {
        expect(found).to.include({ ...expected, uid: user.uid });
        expect([found!.regTime, found!.updatedAt, found!.lastSeenAt].map((d) => d?.getTime())).to.deep.equal(
          [T0, T0, T0].map((d) => d.getTime()),
        );
      }
      const other = await aUser(w);
      expect((await w.users.findByIds([user.uid, other.uid, other.uid + 1000])).map((u) => u.uid).sort((a, b) => a - b)).to.deep.equal([
        user.uid,
        other.uid,
      ]);
      expect(await w.users.findByIds([])).to.deep.equal([]);
    });

    it('answers null for an unknown id or phone hash', async () => {
      const user = await aUser(w);
      expect(await w.users.findById(user.uid + 1000)).to.equal(null);
      expect(await w.users.findByPhoneHash('0'.repeat(64))).to.equal(null);
    });

    it('gives every new account a uid of its own', async () => {
      const users = await someUsers(w, 3);
      expect(new Set(users.map((u) => u.uid)).size).to.equal(3);
    });

    it('registerDevice of a known phone moves the account: same uid, the new device, no public key unless given, regTime kept', async () => {
      const first = await aUser(w, { publicKey: 'B'.repeat(43) + '=' });
      const again = newDevice({ phoneHash: first.phoneHash, phoneNum: first.phoneNum, nickname: 'moved', now: at(60) });
      const { user, created } = await w.users.registerDevice(again);
      expect(created).to.equal(false);
      expect(user).to.include({ uid: first.uid, cid: again.cid, ukeyHash: again.ukeyHash, nickname: 'moved', publicKey: null });
      const row = (await w.users.findById(first.uid))!;
      expect(row).to.include({ cid: again.cid, ukeyHash: again.ukeyHash, nickname: 'moved', publicKey: null });
      expect(row.regTime.getTime()).to.equal(T0.getTime());
      expect(row.updatedAt.getTime()).to.equal(at(60).getTime());
      expect(row.lastSeenAt!.getTime()).to.equal(at(60).getTime());
    });

    it('registerDevice told the phone is known moves the account, and creates it when it is gone since the caller looked', async () => {
      const first = await aUser(w);
      const moved = await w.users.registerDevice(newDevice({ phoneHash: first.phoneHash, nickname: 'moved', now: at(60), known: true }));
      expect(moved.created).to.equal(false);
      expect(moved.user).to.include({ uid: first.uid, nickname: 'moved' });

      const gone = newDevice({ known: true });
      const made = await w.users.registerDevice(gone);
      expect(made.created).to.equal(true);
      expect((await w.users.findByPhoneHash(gone.phoneHash))!.uid).to.equal(made.user.uid);
    });

    it('a move runs check on the account as it was, writes the notices to the old device, and a throwing check changes nothing', async () => {
      const first = await aUser(w);
      const seen: string[] = [];
      const move: AccountMove = {
        check: (current) => void seen.push(current.cid!),
        notices: (previous) => [{ receiverUid: previous.uid, cid: previous.cid, kind: 'account_moved', payload: '{}', expiresAt: null }],
      };
      await w.users.registerDevice(newDevice({ phoneHash: first.phoneHash, now: at(1) }), move);
      expect(seen).to.deep.equal([first.cid]);
      const pushes = await w.pushJobs.listForReceivers(0, [first.uid], 10);
      expect(pushes.map((p) => p.kind)).to.deep.equal(['account_moved']);
      const claimed = await w.pushJobs.claimDue(at(2), 10, 60_000);
      expect(claimed.map((c) => c.cid)).to.deep.equal([first.cid]);

      const refused: AccountMove = {
        check: () => {
          throw new Error('locked');
        },
        notices: () => [],
      };
      const current = (await w.users.findById(first.uid))!;
      await w.users.registerDevice(newDevice({ phoneHash: first.phoneHash, now: at(3) }), refused).then(
        () => expect.fail('the move went through'),
        (e: Error) => expect(e.message).to.equal('locked'),
      );
      expect(await w.users.findById(first.uid)).to.include({ cid: current.cid, ukeyHash: current.ukeyHash });
    });

    it("a move ends the account's pending messages (account_moved), answers the images that ended and writes their receipts", async () => {
      const [owner, sender, other] = await someUsers(w, 3);
      const [alone] = await anImage(w, sender, [owner]);
      const shared = await anImage(w, sender, [owner, other]);
      const [expired] = await anImage(w, sender, [owner], { ttlSeconds: 10 });
      const move: AccountMove = { check: () => undefined, notices: () => [], receipts };
      const { endedImages } = await w.users.registerDevice(newDevice({ phoneHash: owner.phoneHash, now: at(60) }), move);

      expect(endedImages.map((i) => i.objectName)).to.deep.equal([alone.image.objectName]);
      expect(await w.messages.findByKey(alone.messageKey)).to.include({ exist: false, endReason: 'account_moved' });
      expect(await w.messages.findByKey(shared[0].messageKey)).to.include({ exist: false, endReason: 'account_moved' });
      expect(await w.messages.findByKey(shared[1].messageKey)).to.include({ exist: true, endReason: null });
      // Past its expiry: the sweep ends it, not the move.
      expect(await w.messages.findByKey(expired.messageKey)).to.include({ exist: true });
      expect(await receiptsTo(w, sender.uid)).to.deep.equal([{ id: alone.id, reason: 'account_moved' }]);
    });

    it('updateCid, updatePublicKey and updateRegistrationLock change one field and answer the account; null for no account', async () => {
      const user = await aUser(w);
      expect(await w.users.updateCid(user.uid, 'new-cid', at(1))).to.include({ uid: user.uid, cid: 'new-cid' });
      expect(await w.users.updatePublicKey(user.uid, 'C'.repeat(43) + '=', at(2))).to.include({
        cid: 'new-cid',
        publicKey: 'C'.repeat(43) + '=',
      });
      expect(await w.users.updateRegistrationLock(user.uid, 'lock-hash', at(3))).to.include({ registrationLock: 'lock-hash' });
      const row = (await w.users.updateRegistrationLock(user.uid, null, at(4)))!;
      expect(row).to.include({ registrationLock: null, cid: 'new-cid' });
      expect(row.updatedAt.getTime()).to.equal(at(4).getTime());
      const gone = user.uid + 1000;
      expect(await w.users.updateCid(gone, 'x', at(5))).to.equal(null);
      expect(await w.users.updatePublicKey(gone, 'x', at(5))).to.equal(null);
      expect(await w.users.updateRegistrationLock(gone, null, at(5))).to.equal(null);
    });

    it('touchSeen records a request only when the last one recorded is older than staleBefore', async () => {
      const user = await aUser(w);
      const seen = async () => (await w.users.findById(user.uid))!.lastSeenAt!.getTime();
      await w.users.touchSeen(user.uid, at(10), at(-1));
      expect(await seen()).to.equal(T0.getTime());
      await w.users.touchSeen(user.uid, at(20), at(5));
      expect(await seen()).to.equal(at(20).getTime());
      await w.users.touchSeen(user.uid, at(30), at(20));
      expect(await seen()).to.equal(at(20).getTime());
    });
  });
}
