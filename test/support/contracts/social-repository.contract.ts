import { expect } from 'chai';
import { FriendshipState } from '../../../src/entities/friendship.entity';
import { WhoCanSend } from '../../../src/entities/user.entity';
import { at, aUser, someUsers, useWorld, WorldFactory } from './world';

const uids = (list: { uid: number }[]) => list.map((u) => u.uid);
const outcome = (state: FriendshipState, created: boolean, accepted: boolean) => ({ state, created, accepted });

/** What SocialService relies on from a SocialRepository. */
export function socialRepositoryContract(make: WorldFactory): void {
  describe('SocialRepository', () => {
    const w = useWorld(make);

    it('requestFriend asks, a repeat changes nothing, and the other side asking back accepts', async () => {
      const [alice, bob] = await someUsers(w, 2);
      expect(await w.social.relation(alice.uid, bob.uid)).to.deep.equal({
        state: null,
        requesterUid: null,
        viewerBlocked: false,
        blockedByOther: false,
      });
      expect(await w.social.requestFriend(alice.uid, bob.uid, at(1))).to.deep.equal(outcome(FriendshipState.REQUESTED, true, false));
      expect(await w.social.requestFriend(alice.uid, bob.uid, at(2))).to.deep.equal(outcome(FriendshipState.REQUESTED, false, false));
      expect(await w.social.relation(bob.uid, alice.uid)).to.include({ state: FriendshipState.REQUESTED, requesterUid: alice.uid });
      expect(await w.social.requestFriend(bob.uid, alice.uid, at(3))).to.deep.equal(outcome(FriendshipState.FRIENDS, false, true));
      expect(await w.social.requestFriend(alice.uid, bob.uid, at(4))).to.deep.equal(outcome(FriendshipState.FRIENDS, false, false));
      expect(await w.social.relation(alice.uid, bob.uid)).to.include({ state: FriendshipState.FRIENDS, requesterUid: alice.uid });
      expect([...(await w.social.friendsAmong(alice.uid, [bob.uid, alice.uid + bob.uid + 1000]))]).to.deep.equal([bob.uid]);
      expect(await w.social.friendsAmong(alice.uid, [])).to.deep.equal(new Set());
      await w.social.removeFriendship(bob.uid, alice.uid);
      expect((await w.social.relation(alice.uid, bob.uid)).state).to.equal(null);
    });

    it('lists friends and requests, the most recent first; incoming requests from someone blocked are left out', async () => {
      const [me, a, b, c, d, e] = await someUsers(w, 6);
      await w.social.requestFriend(me.uid, a.uid, at(1));
      await w.social.requestFriend(b.uid, me.uid, at(2));
      await w.social.requestFriend(me.uid, c.uid, at(3));
      await w.social.requestFriend(d.uid, me.uid, at(4));
      await w.social.requestFriend(e.uid, me.uid, at(5));
      await w.social.requestFriend(me.uid, b.uid, at(6));
      await w.social.requestFriend(a.uid, me.uid, at(7));
      await w.social.block(me.uid, e.uid, at(8));
      await w.social.requestFriend(e.uid, me.uid, at(9));
      expect(uids(await w.social.listFriends(me.uid))).to.deep.equal([a.uid, b.uid]);
      expect(uids(await w.social.listFriends(b.uid))).to.deep.equal([me.uid]);
      const requests = await w.social.listRequests(me.uid);
      expect({ incoming: uids(requests.incoming), outgoing: uids(requests.outgoing) }).to.deep.equal({
        incoming: [d.uid],
        outgoing: [c.uid],
      });
      // The blocked user still sees its own request as pending.
      expect(uids((await w.social.listRequests(e.uid)).outgoing)).to.deep.equal([me.uid]);
    });

    it('block ends the friendship and shows on both sides; blocks are listed most recent first; unblock lifts one', async () => {
      const [me, a, b] = await someUsers(w, 3);
      await w.social.requestFriend(me.uid, a.uid, at(1));
      await w.social.requestFriend(a.uid, me.uid, at(2));
      await w.social.block(me.uid, a.uid, at(3));
      await w.social.block(me.uid, b.uid, at(4));
      await w.social.block(me.uid, a.uid, at(5));
      expect(await w.social.relation(me.uid, a.uid)).to.deep.equal({
        state: null,
        requesterUid: null,
        viewerBlocked: true,
        blockedByOther: false,
      });
      expect(await w.social.relation(a.uid, me.uid)).to.deep.equal({
        state: null,
        requesterUid: null,
        viewerBlocked: false,
        blockedByOther: true,
      });
      expect(uids(await w.social.listFriends(me.uid))).to.deep.equal([]);
      expect(uids(await w.social.listBlocked(me.uid))).to.deep.equal([b.uid, a.uid]);
      await w.social.unblock(me.uid, b.uid);
      await w.social.unblock(b.uid, me.uid);
      expect(uids(await w.social.listBlocked(me.uid))).to.deep.equal([a.uid]);
      expect(uids(await w.social.listBlocked(a.uid))).to.deep.equal([]);
    });

    it('discover finds registered, discoverable users by phone hash, never the viewer nor someone who blocked the viewer', async () => {
      const [me, a, hidden, blocker, stranger] = await someUsers(w, 5);
      await w.social.updateSettings(hidden.uid, { discoverable: false }, at(1));
      await w.social.block(blocker.uid, me.uid, at(2));
      await w.social.block(me.uid, stranger.uid, at(3));
      const found = await w.social.discover(me.uid, [me, a, hidden, blocker, stranger].map((u) => u.phoneHash).concat('f'.repeat(64)));
      expect(uids(found)).to.deep.equal([a.uid, stranger.uid]);
      expect(found[0]).to.include({ uid: a.uid, nickname: a.nickname, phoneHash: a.phoneHash, regionNum: '86' });
      expect(await w.social.discover(me.uid, [])).to.deep.equal([]);
    });

    it('updateSettings changes only what the patch names and answers the account; null for no account', async () => {
      const me = await aUser(w);
      const changed = (await w.social.updateSettings(me.uid, { whoCanSendMe: WhoCanSend.FRIENDS }, at(1)))!;
      expect(changed).to.include({ uid: me.uid, whoCanSendMe: WhoCanSend.FRIENDS, discoverable: true });
      expect(changed.updatedAt.getTime()).to.equal(at(1).getTime());
      expect(await w.social.updateSettings(me.uid, { discoverable: false }, at(2))).to.include({
        whoCanSendMe: WhoCanSend.FRIENDS,
        discoverable: false,
      });
      expect(await w.users.findById(me.uid)).to.include({ whoCanSendMe: WhoCanSend.FRIENDS, discoverable: false });
      expect(await w.social.updateSettings(me.uid + 1000, { discoverable: false }, at(3))).to.equal(null);
    });
  });
}
