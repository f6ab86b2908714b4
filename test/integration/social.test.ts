import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Friendship } from '../../src/entities/friendship.entity';
import { GroupMember } from '../../src/entities/group.entity';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { ApiClient, GqlResult, httpGet, sendGroupImage } from '../support/client';
import { jpegBytes, TestUser } from '../support/factories';
import { befriend as befriendAll, someUsers } from '../support/fixtures';
import { recordPushes } from '../support/pushes';
import { describeEachStack, TestStack } from '../support/stack';
import { eventually } from '../support/wait';

const LIMIT = 1500;
const MAX_MEMBERS = 7;
const USER = 'uid nickname phoneHash';
const GROUP = `id name owner { uid } members { uid }`;

describeEachStack(
  'social graph: discovery, friends, settings, blocking, groups',
  (stack: () => TestStack) => {
    let api: ApiClient;
    const codeOf = (r: GqlResult) => r.errors?.[0]?.extensions?.code;
    const db = () => stack().server.container.db;
    const users = (n: number) => someUsers(api, n);
    const uids = (list: { uid: number }[]) => list.map((u) => u.uid);
    const randomHash = () => randomBytes(32).toString('hex');

    const q = (token: string, query: string, variables: Record<string, unknown> = {}) => api.gql(query, variables, token);
    const request = (a: TestUser, b: TestUser) =>
      q(a.token, 'mutation($u: Int!) { requestFriend(uid: $u) { user { uid } state } }', { u: b.uid });
    const befriend = (a: TestUser, ...others: TestUser[]) => befriendAll(api, a, ...others);
    const block = (a: TestUser, b: TestUser) => q(a.token, 'mutation($u: Int!) { block(uid: $u) }', { u: b.uid });
    const friendsOf = async (a: TestUser) => uids((await q(a.token, '{ friends { uid } }')).data!.friends);
    const requestsOf = async (a: TestUser) => {
      const r = (await q(a.token, '{ friendRequests { incoming { uid } outgoing { uid } } }')).data!.friendRequests;
      return { incoming: uids(r.incoming), outgoing: uids(r.outgoing) };
    };
    const discover = (a: TestUser, phoneHashes: string[]) =>
      q(a.token, `query($h: [String!]!) { discoverContacts(phoneHashes: $h) { ${USER} } }`, { h: phoneHashes });
    const pending = async (a: TestUser) =>
      (await q(a.token, '{ images { messageKey sender { uid } } }')).data!.images as { messageKey: string }[];

    before(() => {
      api = new ApiClient(stack().url);
    });

    describe('discoverContacts', () => {
      it('finds the registered, discoverable users among the hashes who have not blocked the viewer', async () => {
        const [viewer, open, hidden, blocker] = await users(4);
        await q(hidden.token, 'mutation { updateSettings(input: { discoverable: false }) { discoverable } }');
        await block(blocker, viewer);
        const res = await discover(viewer, [open.phoneHash, hidden.phoneHash, blocker.phoneHash, randomHash(), viewer.phoneHash]);
        expect(res.data!.discoverContacts).to.deep.equal([{ uid: open.uid, nickname: open.nickname, phoneHash: open.phoneHash }]);
        // Hidden and blocking users are still found by others.
        expect(uids((await discover(open, [hidden.phoneHash, blocker.phoneHash])).data!.discoverContacts)).to.deep.equal([blocker.uid]);
      });

      it('refuses a malformed hash or more than 1000 with BAD_USER_INPUT', async () => {
        const [viewer] = await users(1);
        expect(codeOf(await discover(viewer, ['abc']))).to.equal('BAD_USER_INPUT');
        expect(codeOf(await discover(viewer, [randomHash().toUpperCase()]))).to.equal('BAD_USER_INPUT');
        expect(codeOf(await discover(viewer, Array.from({ length: 1001 }, randomHash)))).to.equal('BAD_USER_INPUT');
      });

      it('stores nothing about the hashes asked', async () => {
        const [viewer] = await users(1);
        const asked = randomHash();
        await discover(viewer, [asked]);
        // The budget counts in the shared rate_limit table, under digests that name no one.
        const counters = await db().query('SELECT * FROM rate_limit');
        expect(JSON.stringify(counters)).not.to.contain(asked);
        expect(counters.map((c: { key: string }) => c.key).some((k: string) => k.startsWith('discovery'))).to.equal(true);
      });

      it('spends a daily budget shared through the database; past it RATE_LIMITED with retryAfter, a refused call spending nothing', async () => {
        const [viewer, other] = await users(2);
        expect((await discover(viewer, Array.from({ length: 1000 }, randomHash))).data!.discoverContacts).to.deep.equal([]);
        const refused = await discover(viewer, Array.from({ length: LIMIT - 1000 + 1 }, randomHash));
        expect(codeOf(refused)).to.equal('RATE_LIMITED');
        expect(refused.errors![0].extensions!.retryAfter).to.be.within(86_000, 86_400);
        expect(codeOf(await discover(viewer, Array.from({ length: LIMIT - 1000 }, randomHash)))).to.equal(undefined);
        expect(codeOf(await discover(viewer, [other.phoneHash]))).to.equal('RATE_LIMITED');
        expect(uids((await discover(other, [viewer.phoneHash])).data!.discoverContacts)).to.deep.equal([viewer.uid]);
      });
    });

    describe('friends', () => {
      it('requests, lists, accepts and removes, pushing friend_request and friend_accepted', async () => {
        const [a, b] = await users(2);
        const pushes = await recordPushes(stack());
        try {
          expect((await request(a, b)).data!.requestFriend).to.deep.equal({ user: { uid: b.uid }, state: 'REQUESTED' });
          expect(await requestsOf(a)).to.deep.equal({ incoming: [], outgoing: [b.uid] });
          expect(await requestsOf(b)).to.deep.equal({ incoming: [a.uid], outgoing: [] });
          expect((await request(b, a)).data!.requestFriend).to.deep.equal({ user: { uid: a.uid }, state: 'FRIENDS' });
          expect(await friendsOf(a)).to.deep.equal([b.uid]);
          expect(await friendsOf(b)).to.deep.equal([a.uid]);
          expect(await requestsOf(b)).to.deep.equal({ incoming: [], outgoing: [] });
          await eventually(async () =>
            expect(await pushes.items()).to.deep.equal([
              { receiverUid: b.uid, payload: { event: 'friend_request', uid: a.uid, nickname: a.nickname } },
              { receiverUid: a.uid, payload: { event: 'friend_accepted', uid: b.uid, nickname: b.nickname, phone_hash: b.phoneHash } },
            ]),
          );
        } finally {
          pushes.stop();
        }
        expect((await q(a.token, 'mutation($u: Int!) { removeFriend(uid: $u) }', { u: b.uid })).data!.removeFriend).to.equal(true);
        expect(await friendsOf(a)).to.deep.equal([]);
        expect(await friendsOf(b)).to.deep.equal([]);
      });

      it('declines an incoming request and cancels an outgoing one', async () => {
        const [a, b, c] = await users(3);
        await request(a, b);
        await request(c, a);
        await q(b.token, 'mutation($u: Int!) { removeFriend(uid: $u) }', { u: a.uid });
        await q(c.token, 'mutation($u: Int!) { removeFriend(uid: $u) }', { u: a.uid });
        expect(await requestsOf(a)).to.deep.equal({ incoming: [], outgoing: [] });
      });

      it('refuses yourself with BAD_USER_INPUT and an unknown user with NOT_FOUND', async () => {
        const [a] = await users(1);
        expect(codeOf(await request(a, a))).to.equal('BAD_USER_INPUT');
        expect(codeOf(await q(a.token, 'mutation { requestFriend(uid: 987654321) { state } }'))).to.equal('NOT_FOUND');
      });

      it('answers concurrent duplicate requests with the same state and keeps one row per pair', async () => {
        const [a, b, c, d] = await users(4);
        const same = await Promise.all(Array.from({ length: 8 }, () => request(a, b)));
        expect(same.map((r) => r.data?.requestFriend.state)).to.deep.equal(Array(8).fill('REQUESTED'));
        const crossed = await Promise.all([request(c, d), request(d, c), request(c, d), request(d, c)]);
        expect(crossed.every((r) => !r.errors)).to.equal(true);
        expect(await friendsOf(c)).to.deep.equal([d.uid]);
        const rows = db().getRepository(Friendship);
        expect(await rows.countBy({ userLow: Math.min(a.uid, b.uid), userHigh: Math.max(a.uid, b.uid) })).to.equal(1);
        expect(await rows.countBy({ userLow: Math.min(c.uid, d.uid), userHigh: Math.max(c.uid, d.uid) })).to.equal(1);
      });
    });

    describe('settings', () => {
      it('default to EVERYONE and discoverable; with FRIENDS a non-friend send is FORBIDDEN and nothing is stored', async () => {
        const [receiver, friend, stranger] = await users(3);
        expect((await q(receiver.token, '{ settings { whoCanSendMe discoverable } }')).data!.settings).to.deep.equal({
          whoCanSendMe: 'EVERYONE',
          discoverable: true,
        });
        const updated = await q(
          receiver.token,
          'mutation { updateSettings(input: { whoCanSendMe: FRIENDS }) { whoCanSendMe discoverable } }',
        );
        expect(updated.data!.updateSettings).to.deep.equal({ whoCanSendMe: 'FRIENDS', discoverable: true });
        await befriend(receiver, friend);
        const blobsBefore = (await stack().blobNames()).length;
        expect(codeOf(await api.sendImage(stranger.token, receiver.uid, jpegBytes(20_000)))).to.equal('FORBIDDEN');
        expect(await db().getRepository(Message).countBy({ senderUid: stranger.uid })).to.equal(0);
        await eventually(async () => expect((await stack().blobNames()).length).to.equal(blobsBefore));
        expect((await api.sendImage(friend.token, receiver.uid, jpegBytes(20_000))).data!.sendImage.exist).to.equal(true);
        expect(await pending(receiver)).to.have.length(1);
      });
    });

    describe('blocking', () => {
      it('ends friendship and requests both ways and lists the blocked user to the blocker only', async () => {
        const [a, b, c] = await users(3);
        await befriend(a, b);
        await request(c, a);
        await block(a, b);
        await block(a, c);
        expect(await friendsOf(a)).to.deep.equal([]);
        expect(await friendsOf(b)).to.deep.equal([]);
        expect(await requestsOf(c)).to.deep.equal({ incoming: [], outgoing: [] });
        expect(uids((await q(a.token, '{ blocked { uid } }')).data!.blocked)).to.deep.equal([c.uid, b.uid]);
        expect((await q(b.token, '{ blocked { uid } }')).data!.blocked).to.deep.equal([]);
        await q(a.token, 'mutation($u: Int!) { unblock(uid: $u) }', { u: c.uid });
        expect(uids((await q(a.token, '{ blocked { uid } }')).data!.blocked)).to.deep.equal([b.uid]);
      });

      it("a blocked user's send looks accepted but leaves no blob, nothing listed and no push for the blocker", async () => {
        const [blocker, blocked] = await users(2);
        await block(blocker, blocked);
        const pushes = await recordPushes(stack());
        const blobsBefore = await stack().blobNames();
        try {
          const res = await api.sendImage(blocked.token, blocker.uid, jpegBytes(30_000));
          expect(res.errors).to.equal(undefined);
          const m = res.data!.sendImage;
          expect(m).to.include({ receiverUid: blocker.uid, exist: true, filetype: 'image/jpeg', size: 30_000, downloadUrl: null });
          expect(m.messageKey).to.match(/^[0-9a-f]{64}$/);
          expect((await request(blocked, blocker)).data!.requestFriend.state).to.equal('REQUESTED');
          expect((await request(blocked, blocker)).data!.requestFriend.state).to.equal('REQUESTED');
          expect(await requestsOf(blocked)).to.deep.equal({ incoming: [], outgoing: [blocker.uid] });

          expect(await stack().blobNames()).to.deep.equal(blobsBefore);
          expect(await pending(blocker)).to.deep.equal([]);
          expect(codeOf(await q(blocker.token, 'query($k: String!) { image(messageKey: $k) { exist } }', { k: m.messageKey }))).to.equal(
            'NOT_FOUND',
          );
          expect(await requestsOf(blocker)).to.deep.equal({ incoming: [], outgoing: [] });
          await new Promise((r) => setTimeout(r, 50));
          expect((await pushes.items()).filter((p) => p.receiverUid === blocker.uid)).to.deep.equal([]);
          // The row that records the discarded send is born ended and owns no blob.
          const row = await db()
            .getRepository(Message)
            .findOneOrFail({ where: { messageKey: m.messageKey }, relations: { image: true } });
          expect(row).to.include({ exist: false, endReason: 'blocked' });
          expect(row.image.blobDeletedAt).to.be.instanceOf(Date);
        } finally {
          pushes.stop();
        }
      });

      it("hides the blocked user's earlier pending images from the blocker, and refuses the blocker's own sends to them", async () => {
        const [blocker, blocked] = await users(2);
        await api.sendImage(blocked.token, blocker.uid, jpegBytes(10_000));
        expect(await pending(blocker)).to.have.length(1);
        await block(blocker, blocked);
        expect(await pending(blocker)).to.have.length(0);
        expect(codeOf(await api.sendImage(blocker.token, blocked.uid, jpegBytes(10_000)))).to.equal('FORBIDDEN');
        expect(codeOf(await request(blocker, blocked))).to.equal('FORBIDDEN');
      });
    });

    describe('groups', () => {
      const create = (owner: TestUser, name: string, members: TestUser[]) =>
        q(owner.token, `mutation($n: String!, $m: [Int!]!) { createGroup(name: $n, memberUids: $m) { ${GROUP} } }`, {
          n: name,
          m: uids(members),
        });
      const add = (who: TestUser, groupId: number, members: TestUser[]) =>
        q(who.token, `mutation($g: Int!, $u: [Int!]!) { addGroupMembers(groupId: $g, uids: $u) { ${GROUP} } }`, {
          g: groupId,
          u: uids(members),
        });
      const remove = (who: TestUser, groupId: number, member: TestUser) =>
        q(who.token, `mutation($g: Int!, $u: Int!) { removeGroupMember(groupId: $g, uid: $u) { ${GROUP} } }`, {
          g: groupId,
          u: member.uid,
        });
      const groupsOf = async (who: TestUser) =>
        (await q(who.token, `{ groups { ${GROUP} } }`)).data!.groups as {
          id: number;
          owner: { uid: number };
          members: { uid: number }[];
        }[];

      it('creates a group of the owner and friends only, at most MAX_GROUP_MEMBERS', async () => {
        const [owner, f1, f2, stranger] = await users(4);
        await befriend(owner, f1, f2);
        const g = (await create(owner, '  Family  ', [f1, f2, f1])).data!.createGroup;
        expect(g).to.deep.include({ name: 'Family', owner: { uid: owner.uid } });
        expect(g.members).to.deep.equal([{ uid: owner.uid }, { uid: f1.uid }, { uid: f2.uid }]);
        expect(codeOf(await create(owner, 'x', [stranger]))).to.equal('FORBIDDEN');
        expect(codeOf(await q(owner.token, 'mutation { createGroup(name: "x", memberUids: [987654321]) { id } }'))).to.equal('NOT_FOUND');
        expect(codeOf(await create(owner, '   ', []))).to.equal('BAD_USER_INPUT');
        expect((await groupsOf(f2)).map((x) => x.id)).to.deep.equal([g.id]);
      });

      it('lets any member add its own friends up to the limit, and answers non-members NOT_FOUND', async () => {
        const all = await users(MAX_MEMBERS + 1);
        const [owner, member, ...rest] = all;
        await befriend(owner, member);
        await befriend(member, ...rest);
        const g = (await create(owner, 'club', [member])).data!.createGroup;
        expect(codeOf(await add(owner, g.id, [rest[0]]))).to.equal('FORBIDDEN');
        const added = (await add(member, g.id, rest.slice(0, MAX_MEMBERS - 3))).data!.addGroupMembers;
        expect(added.members).to.have.length(MAX_MEMBERS - 1);
        expect(codeOf(await add(member, g.id, rest.slice(MAX_MEMBERS - 3)))).to.equal('BAD_USER_INPUT');
        // Concurrent adds cannot pass the limit together, nor make a second membership.
        const racing = await Promise.all([
          add(member, g.id, [rest[MAX_MEMBERS - 3]]),
          add(member, g.id, [rest[MAX_MEMBERS - 2]]),
          add(member, g.id, [rest[MAX_MEMBERS - 3]]),
        ]);
        expect(racing.filter((r) => !r.errors).length).to.be.at.least(1);
        expect(await db().getRepository(GroupMember).countBy({ groupId: g.id })).to.equal(MAX_MEMBERS);
        const [nobody] = await users(1);
        expect(codeOf(await add(nobody, g.id, []))).to.equal('NOT_FOUND');
        expect(codeOf(await remove(nobody, g.id, nobody))).to.equal('NOT_FOUND');
        expect(codeOf(await sendGroupImage(api, nobody.token, g.id, jpegBytes(5000)))).to.equal('NOT_FOUND');
      });

      it('lets only the owner remove others; a member leaves; the owner leaving hands over; the last one out deletes it', async () => {
        const [owner, m1, m2, m3] = await users(4);
        await befriend(owner, m1, m2, m3);
        const g = (await create(owner, 'g', [m1, m2, m3])).data!.createGroup;
        expect(codeOf(await remove(m1, g.id, m2))).to.equal('FORBIDDEN');
        expect(uids((await remove(owner, g.id, m3)).data!.removeGroupMember.members)).to.deep.equal([owner.uid, m1.uid, m2.uid]);
        expect(await groupsOf(m3)).to.deep.equal([]);
        await remove(m2, g.id, m2);
        expect(uids((await groupsOf(owner))[0].members)).to.deep.equal([owner.uid, m1.uid]);
        await remove(owner, g.id, owner);
        const [left] = await groupsOf(m1);
        expect(left.owner.uid).to.equal(m1.uid);
        expect(uids(left.members)).to.deep.equal([m1.uid]);
        await remove(m1, g.id, m1);
        expect(await groupsOf(m1)).to.deep.equal([]);
        expect(codeOf(await remove(m1, g.id, m1))).to.equal('NOT_FOUND');
      });

      it('sends one image to five members as one blob and five messages; the blob outlives every confirm but the fifth', async () => {
        const [sender, ...five] = await users(6);
        await befriend(sender, ...five);
        const g = (await create(sender, 'five', five)).data!.createGroup;
        const pushes = await recordPushes(stack());
        const imagesBefore = await db().getRepository(Image).count();
        const blobsBefore = (await stack().blobNames()).length;
        const bytes = jpegBytes(40_000);
        let sent;
        try {
          sent = (await sendGroupImage(api, sender.token, g.id, bytes)).data!.sendGroupImage;
          await eventually(async () => expect(await pushes.items()).to.have.length(5));
        } finally {
          pushes.stop();
        }
        expect(sent.map((m) => m.receiverUid)).to.have.members(uids(five));
        expect(new Set(sent.map((m) => m.messageKey)).size).to.equal(5);
        for (const m of sent) expect((await db().getRepository(Message).findOneByOrFail({ messageKey: m.messageKey })).id).to.equal(m.id);
        expect(await db().getRepository(Image).count()).to.equal(imagesBefore + 1);
        expect((await stack().blobNames()).length).to.equal(blobsBefore + 1);
        const byKey = new Map(sent.map((m) => [m.messageKey, m]));
        for (const p of await pushes.items()) {
          const m = byKey.get(p.payload.message_key as string)!;
          expect(p.receiverUid).to.equal(m.receiverUid);
          expect(p.payload).to.deep.equal({
            sender_region: '86',
            sender_phone: sender.phoneHash,
            message_id: m.id,
            message_key: m.messageKey,
            send_time: m.sendTime,
            group_id: g.id,
          });
        }
        const receiverOf = (uid: number) => five.find((u) => u.uid === uid)!;
        const urls = new Map<string, string>();
        for (const m of sent) {
          const got = (
            await q(receiverOf(m.receiverUid).token, 'query($k: String!) { image(messageKey: $k) { downloadUrl group { id name } } }', {
              k: m.messageKey,
            })
          ).data!.image;
          expect(got.group).to.deep.equal({ id: g.id, name: 'five' });
          urls.set(m.messageKey, got.downloadUrl);
        }
        for (const [i, m] of sent.entries()) {
          const download = await httpGet(urls.get(m.messageKey)!);
          expect(download.status).to.equal(200);
          expect(download.body.equals(bytes)).to.equal(true);
          await q(receiverOf(m.receiverUid).token, 'mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', {
            k: m.messageKey,
          });
          expect((await stack().blobNames()).length).to.equal(i < 4 ? blobsBefore + 1 : blobsBefore);
        }
      });

      it('gives each message of a listing its own group, and a group only to its members', async () => {
        const [sender, a, b] = await users(3);
        await befriend(sender, a, b);
        const one = (await create(sender, 'one', [a, b])).data!.createGroup;
        const two = (await create(sender, 'two', [a])).data!.createGroup;
        await sendGroupImage(api, sender.token, one.id, jpegBytes(5000));
        await sendGroupImage(api, sender.token, two.id, jpegBytes(5000));
        await sendGroupImage(api, sender.token, one.id, jpegBytes(5000));
        await api.sendImage(sender.token, a.uid, jpegBytes(5000));
        const groupsListed = async (who: TestUser) =>
          ((await q(who.token, '{ images { group { id name } } }')).data!.images as { group: unknown }[]).map((m) => m.group);
        const g1 = { id: one.id, name: 'one' };
        const g2 = { id: two.id, name: 'two' };
        expect(await groupsListed(a)).to.deep.equal([g1, g2, g1, null]);
        expect(await groupsListed(b)).to.deep.equal([g1, g1]);
        // A member who left keeps the image, not the group.
        await remove(a, two.id, a);
        expect(await groupsListed(a)).to.deep.equal([g1, null, g1, null]);
        const sent = await api.upload<{ sendGroupImage: { receiverUid: number; group: unknown }[] }>({
          token: sender.token,
          query: 'mutation($g: Int!, $image: Upload!) { sendGroupImage(groupId: $g, image: $image) { receiverUid group { id name } } }',
          variables: { g: one.id },
          file: jpegBytes(5000),
        });
        expect(sent.data!.sendGroupImage.map((m) => m.group)).to.deep.equal([g1, g1]);
      });

      it('skips members who blocked the sender: nothing listed or pushed to them, the answer looks the same', async () => {
        const [sender, friendly, blocker] = await users(3);
        await befriend(sender, friendly, blocker);
        const g = (await create(sender, 'g', [friendly, blocker])).data!.createGroup;
        await block(blocker, sender);
        const pushes = await recordPushes(stack());
        let sent;
        try {
          sent = (await sendGroupImage(api, sender.token, g.id, jpegBytes(10_000))).data!.sendGroupImage;
          await eventually(async () => expect(await pushes.items()).to.have.length(1));
        } finally {
          pushes.stop();
        }
        expect(sent.map((m) => m.receiverUid)).to.have.members([friendly.uid, blocker.uid]);
        expect(sent.every((m) => m.exist)).to.equal(true);
        expect((await pushes.items())[0].receiverUid).to.equal(friendly.uid);
        expect(await pending(blocker)).to.deep.equal([]);
        expect(await pending(friendly)).to.have.length(1);
      });
    });
  },
  {
    DISCOVERY_DAILY_LIMIT: String(LIMIT),
    MAX_GROUP_MEMBERS: String(MAX_MEMBERS),
    // The discovery budget is scaled by the multiplier too: keep it at 1 here, and lift the limits
    // that would throttle this suite's many registrations and sends from one address.
    RATE_LIMIT_MULTIPLIER: '1',
    RATE_LIMIT_CODE_IP: '100000/3600',
    RATE_LIMIT_CODE_PREFIX: '100000/3600',
    RATE_LIMIT_REGISTER_IP: '100000/3600',
    RATE_LIMIT_SEND_USER: '100000/3600',
  },
);
