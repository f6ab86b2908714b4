import { expect } from 'chai';
import pino from 'pino';
import { LimiterDiscoveryBudget } from '../../src/adapters/discovery-budget';
import { FriendshipState } from '../../src/entities/friendship.entity';
import { User, WhoCanSend } from '../../src/entities/user.entity';
import { SocialService } from '../../src/services/social.service';
import { FakeSocialRepository, FakeUserRepository, MemoryPushQueue, FakeRateLimiter } from '../support/fakes';
import { rejection } from '../support/service-fixtures';

describe('SocialService (unit)', () => {
  let users: FakeUserRepository;
  let social: FakeSocialRepository;
  let pushes: MemoryPushQueue;
  let service: SocialService;
  let alice: User;
  let bob: User;
  let carol: User;

  const fail = rejection;
  const hash = (i: number) => i.toString(16).padStart(64, '0');
  const flush = () => new Promise((r) => setImmediate(r));

  beforeEach(async () => {
    users = new FakeUserRepository();
    social = new FakeSocialRepository(users);
    pushes = new MemoryPushQueue();
    service = new SocialService({
      users,
      social,
      budget: new LimiterDiscoveryBudget(new FakeRateLimiter({ discovery: { points: 1500, durationSeconds: 86_400 } }, () => new Date())),
      pushes,
      log: pino({ level: 'silent' }),
    });
    const reg = async (i: number) =>
      (
        await users.registerDevice({
          phoneHash: hash(i),
          regionNum: '86',
          phoneNum: String(i),
          nickname: `u${i}`,
          cid: 'c',
          ukeyHash: 'x',
          now: new Date(),
        })
      ).user;
    [alice, bob, carol] = [await reg(1), await reg(2), await reg(3)];
  });

  describe('discoverContacts', () => {
    it('refuses malformed hashes and more than 1000 per call with BAD_USER_INPUT, spending nothing', async () => {
      for (const bad of [['ABC'], [hash(0xabc).toUpperCase()], [`${hash(2)}0`], Array.from({ length: 1001 }, (_, i) => hash(i + 10))]) {
        expect((await fail(service.discoverContacts(alice, bad))).extensions.code).to.equal('BAD_USER_INPUT');
      }
      expect(social.discoverCalls).to.equal(0);
      // The whole budget is still there.
      await service.discoverContacts(
        alice,
        Array.from({ length: 1000 }, (_, i) => hash(i + 10)),
      );
      await service.discoverContacts(
        alice,
        Array.from({ length: 500 }, (_, i) => hash(i + 2000)),
      );
    });

    it('counts distinct hashes against the daily budget; past it RATE_LIMITED with retryAfter, and a refused call spends nothing', async () => {
      const thousand = Array.from({ length: 1000 }, (_, i) => hash(i + 10));
      await service.discoverContacts(alice, thousand);
      const refused = await fail(
        service.discoverContacts(
          alice,
          Array.from({ length: 501 }, (_, i) => hash(i + 5000)),
        ),
      );
      expect(refused.extensions.code).to.equal('RATE_LIMITED');
      expect(refused.extensions.retryAfter).to.be.within(86_000, 86_400);
      const fiveHundred = Array.from({ length: 500 }, (_, i) => hash(i + 5000));
      await service.discoverContacts(alice, [...fiveHundred, ...fiveHundred.slice(0, 300)]);
      expect((await fail(service.discoverContacts(alice, [hash(2)]))).extensions.code).to.equal('RATE_LIMITED');
      // Budgets are per user.
      expect(await service.discoverContacts(bob, [hash(1)])).to.have.length(1);
    });

    it('gives the budget back when the lookup fails', async () => {
      social.failNextDiscover = new Error('db down');
      await fail(
        service.discoverContacts(
          alice,
          Array.from({ length: 1000 }, (_, i) => hash(i + 10)),
        ),
      );
      await service.discoverContacts(
        alice,
        Array.from({ length: 1000 }, (_, i) => hash(i + 10)),
      );
    });

    it('finds discoverable users who have not blocked the viewer', async () => {
      await social.updateSettings(carol.uid, { discoverable: false }, new Date());
      expect((await service.discoverContacts(alice, [hash(2), hash(3), hash(99)])).map((u) => u.uid)).to.deep.equal([bob.uid]);
      await service.block(bob, alice.uid);
      expect(await service.discoverContacts(alice, [hash(2), hash(3)])).to.have.length(0);
    });
  });

  describe('friends', () => {
    it('requests, then accepts when the other asks back, pushing friend_request then friend_accepted', async () => {
      expect((await service.requestFriend(alice, bob.uid)).state).to.equal(FriendshipState.REQUESTED);
      expect((await service.requestFriend(alice, bob.uid)).state).to.equal(FriendshipState.REQUESTED);
      expect((await service.requestFriend(bob, alice.uid)).state).to.equal(FriendshipState.FRIENDS);
      await flush();
      expect(pushes.items).to.deep.equal([
        { receiverUid: bob.uid, payload: { event: 'friend_request', uid: alice.uid, nickname: alice.nickname } },
        { receiverUid: alice.uid, payload: { event: 'friend_accepted', uid: bob.uid, nickname: bob.nickname, phone_hash: bob.phoneHash } },
      ]);
      expect(social.friendships).to.have.length(1);
    });

    it('refuses yourself with BAD_USER_INPUT and an unknown uid with NOT_FOUND', async () => {
      expect((await fail(service.requestFriend(alice, alice.uid))).extensions.code).to.equal('BAD_USER_INPUT');
      expect((await fail(service.requestFriend(alice, 999))).extensions.code).to.equal('NOT_FOUND');
      expect((await fail(service.block(alice, 999))).extensions.code).to.equal('NOT_FOUND');
    });

    it("answers a blocked user's request like a pending one, with no push and nothing shown to the blocker", async () => {
      await service.block(bob, alice.uid);
      expect((await service.requestFriend(alice, bob.uid)).state).to.equal(FriendshipState.REQUESTED);
      await flush();
      expect(pushes.items).to.have.length(0);
      expect((await service.friendRequests(bob)).incoming).to.have.length(0);
      expect((await service.friendRequests(alice)).outgoing.map((u) => u.uid)).to.deep.equal([bob.uid]);
      expect(await service.removeFriend(alice, bob.uid)).to.equal(true);
    });
  });

  describe('per-user limits', () => {
    let limiter: FakeRateLimiter;
    let limited: SocialService;
    beforeEach(() => {
      limiter = new FakeRateLimiter(
        {
          friendRequest: { points: 3, durationSeconds: 86_400 },
          friendRequestPush: { points: 1, durationSeconds: 86_400 },
          block: { points: 2, durationSeconds: 86_400 },
        },
        () => new Date(),
      );
      limited = new SocialService({
        users,
        social,
        budget: new LimiterDiscoveryBudget(limiter),
        pushes,
        log: pino({ level: 'silent' }),
        limiter,
      });
    });

    it('a request made again after a cancel succeeds but pushes the other user once a day', async () => {
      for (let i = 0; i < 3; i++) {
        expect((await limited.requestFriend(alice, bob.uid)).state).to.equal(FriendshipState.REQUESTED);
        await limited.removeFriend(alice, bob.uid);
      }
      expect(pushes.items.map((p) => [p.receiverUid, p.payload.event])).to.deep.equal([[bob.uid, 'friend_request']]);
    });

    it('counts every request, one to a user who blocked the asker too; past the budget RATE_LIMITED with retryAfter, writing nothing', async () => {
      await limited.block(carol, alice.uid);
      await limited.requestFriend(alice, carol.uid);
      await limited.requestFriend(alice, bob.uid);
      await limited.requestFriend(alice, bob.uid);
      const refused = await fail(limited.requestFriend(bob, alice.uid).then(() => limited.requestFriend(alice, carol.uid)));
      expect(refused.extensions).to.deep.include({ code: 'RATE_LIMITED' });
      expect(refused.extensions.retryAfter).to.be.within(86_000, 86_400);
      // The refused call spent nothing; an unknown user is NOT_FOUND before any budget is asked.
      expect(limiter.used('friendRequest', `user:${alice.uid}`)).to.equal(3);
      expect((await fail(limited.requestFriend(alice, 999))).extensions.code).to.equal('NOT_FOUND');
      expect(social.friendships.filter((f) => f.requesterUid === alice.uid)).to.have.length(2);
    });

    it('counts blocks and unblocks against one budget', async () => {
      await limited.block(alice, bob.uid);
      await limited.unblock(alice, bob.uid);
      expect((await fail(limited.block(alice, carol.uid))).extensions.code).to.equal('RATE_LIMITED');
      expect(social.blocks).to.deep.equal([]);
      expect(await limited.block(bob, carol.uid)).to.equal(true);
    });
  });

  describe('one-to-one sends', () => {
    it('with FRIENDS, refuses non-friends with FORBIDDEN; a blocked sender is refused alike, or else discarded', async () => {
      expect((await service.directDelivery(alice, bob.uid)).delivery).to.equal('deliver');
      await service.updateSettings(bob, { whoCanSendMe: WhoCanSend.FRIENDS });
      expect((await fail(service.directDelivery(alice, bob.uid))).extensions.code).to.equal('FORBIDDEN');
      await service.requestFriend(alice, bob.uid);
      await service.requestFriend(bob, alice.uid);
      expect((await service.directDelivery(alice, bob.uid)).delivery).to.equal('deliver');
      await service.block(bob, alice.uid);
      expect((await fail(service.directDelivery(alice, bob.uid))).extensions.code).to.equal('FORBIDDEN');
      await service.updateSettings(bob, { whoCanSendMe: WhoCanSend.EVERYONE });
      expect((await service.directDelivery(alice, bob.uid)).delivery).to.equal('discard');
      expect((await fail(service.directDelivery(bob, alice.uid))).extensions.code).to.equal('FORBIDDEN');
    });
  });
});
