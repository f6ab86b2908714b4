import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { getNamedType, GraphQLField, GraphQLNamedType, isObjectType } from 'graphql';
import { createSchema } from '../../src/schema';
import { ApiClient, GqlResult, httpGet, sendGroupImage } from '../support/client';
import { jpegBytes, requestCode, TestUser } from '../support/factories';
import { befriend as befriendAll, someUsers } from '../support/fixtures';
import { recordPushes } from '../support/pushes';
import { describeEachStack, TestStack } from '../support/stack';

const USER = 'uid nickname regionNum phoneHash regTime publicKey';
const MESSAGE = `id messageKey receiverUid exist sender { ${USER} }`;
const GROUP = `id name owner { ${USER} } members { ${USER} }`;

/** Every root field that takes a user (by uid) or answers with one, and how the walk below reaches it. */
const WALKED: Record<string, string> = {
  me: 'query',
  discoverContacts: 'query, with hashes of no one',
  friends: 'query',
  friendRequests: 'query',
  blocked: 'query, after blocking every uid',
  groups: 'query',
  sentImages: 'query, after sending to every uid',
  image: 'query, with a key of no message to the stranger',
  images: 'query',
  requestFriend: 'every uid',
  removeFriend: 'every uid',
  block: 'every uid',
  unblock: 'every uid',
  sendImage: 'every uid',
  createGroup: 'every uid as the member',
  addGroupMembers: 'every uid, to a group the stranger is in',
  removeGroupMember: 'every uid, from that group',
  sendGroupImage: 'to that group',
  confirmDownload: 'with a key of no message to the stranger',
  setPublicKey: 'the stranger itself',
  updateCid: 'the stranger itself',
  // Answers only the registrant's own account (`Registration.user`): see "the user themself".
  register: 'self only',
  // Answers only the viewer's own account under its new number, as register does.
  changeNumber: 'self only',
};

/** Root fields that take a uid or answer with something that holds a User, found from the schema. */
async function userFields(): Promise<string[]> {
  const schema = await createSchema({ get: () => ({}) });
  const holdsUser = (type: GraphQLNamedType, seen = new Set<string>()): boolean => {
    if (type.name === 'User') return true;
    if (!isObjectType(type) || seen.has(type.name)) return false;
    seen.add(type.name);
    return Object.values(type.getFields()).some((f) => holdsUser(getNamedType(f.type), seen));
  };
  const takesUid = (f: GraphQLField<unknown, unknown>) => f.args.some((a) => /uid/i.test(a.name));
  return [schema.getQueryType()!, schema.getMutationType()!]
    .flatMap((t) => Object.values(t.getFields()))
    .filter((f) => takesUid(f) || holdsUser(getNamedType(f.type)))
    .map((f) => f.name);
}

/** Every object in an answer that is a User (it has a uid and a nickname). */
function usersIn(value: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(value)) value.forEach((v) => usersIn(v, out));
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('uid' in o && 'nickname' in o) out.push(o);
    Object.values(o).forEach((v) => usersIn(v, out));
  }
  return out;
}

describeEachStack(
  'who sees a phone number',
  (stack: () => TestStack) => {
    let api: ApiClient;
    const users = (n: number) => someUsers(api, n);
    const q = (who: TestUser, query: string, variables: Record<string, unknown> = {}) => api.gql(query, variables, who.token);
    const request = (a: TestUser, b: TestUser) =>
      q(a, `mutation($u: Int!) { requestFriend(uid: $u) { user { ${USER} } state } }`, { u: b.uid });
    const befriend = (a: TestUser, ...others: TestUser[]) => befriendAll(api, a, ...others);
    type Shown = { phoneHash: unknown; regionNum: unknown };
    const number = (u: TestUser): Shown => ({ phoneHash: u.phoneHash, regionNum: u.regionNum });
    const hidden: Shown = { phoneHash: null, regionNum: null };
    const numberOf = (o: Record<string, unknown>): Shown => ({ phoneHash: o.phoneHash, regionNum: o.regionNum });

    before(() => {
      api = new ApiClient(stack().url);
    });

    it('a stranger who walks every uid through every query and mutation that takes or returns a user learns no phoneHash or regionNum', async () => {
      // Around the stranger: a friend, who made a group with the stranger and someone the
      // stranger does not know; a user who asked the stranger for friendship; one who blocked it.
      const [stranger, friend, groupmate, asker, blocker, quiet] = await users(6);
      await befriend(friend, stranger, groupmate);
      const group = (
        await q(friend, 'mutation($m: [Int!]!) { createGroup(name: "g", memberUids: $m) { id } }', { m: [stranger.uid, groupmate.uid] })
      ).data!.createGroup;
      await request(asker, stranger);
      await q(blocker, 'mutation($u: Int!) { block(uid: $u) }', { u: stranger.uid });
      await befriend(quiet, groupmate);
      await api.sendImage(groupmate.token, quiet.uid, jpegBytes(1000));
      const everyone = [stranger, friend, groupmate, asker, blocker, quiet];

      const answers: GqlResult[] = [];
      const see = async (r: Promise<GqlResult>) => answers.push(await r);
      const queries = async () => {
        await see(
          q(
            stranger,
            `{ me { ${USER} } friends { ${USER} } friendRequests { incoming { ${USER} } outgoing { ${USER} } } blocked { ${USER} } groups { ${GROUP} } }`,
          ),
        );
        await see(q(stranger, `{ sentImages { id receiver { ${USER} } } images { ${MESSAGE} } }`));
        await see(
          q(stranger, `query($h: [String!]!) { discoverContacts(phoneHashes: $h) { ${USER} } }`, { h: [randomBytes(32).toString('hex')] }),
        );
        await see(q(stranger, `query($k: String!) { image(messageKey: $k) { ${MESSAGE} } }`, { k: randomBytes(32).toString('hex') }));
        await see(
          q(stranger, `mutation($k: String!) { confirmDownload(messageKey: $k) { ${MESSAGE} } }`, { k: randomBytes(32).toString('hex') }),
        );
      };

      await queries();
      // The request is shown to the stranger, the asker's number is not.
      const incoming = answers[0].data!.friendRequests.incoming as Record<string, unknown>[];
      expect(incoming.map((u) => [u.uid, numberOf(u)])).to.deep.equal([[asker.uid, hidden]]);

      const top = Math.max(...everyone.map((u) => u.uid)) + 2;
      for (let uid = 1; uid <= top; uid++) {
        if (uid === stranger.uid) continue;
        const u = { u: uid, g: group.id };
        await see(q(stranger, `mutation($u: Int!) { requestFriend(uid: $u) { user { ${USER} } state } }`, u));
        await see(q(stranger, 'mutation($u: Int!) { removeFriend(uid: $u) }', u));
        await see(q(stranger, 'mutation($u: Int!) { block(uid: $u) }', u));
        await see(q(stranger, `{ blocked { ${USER} } }`));
        await see(q(stranger, 'mutation($u: Int!) { unblock(uid: $u) }', u));
        await see(
          api.upload({
            token: stranger.token,
            query: `mutation($u: Int!, $image: Upload!) { sendImage(receiverUid: $u, image: $image) { ${MESSAGE} } }`,
            variables: u,
            file: jpegBytes(500),
          }),
        );
        await see(q(stranger, `mutation($u: Int!) { createGroup(name: "walk", memberUids: [$u]) { ${GROUP} } }`, u));
        await see(q(stranger, `mutation($u: Int!, $g: Int!) { addGroupMembers(groupId: $g, uids: [$u]) { ${GROUP} } }`, u));
        await see(q(stranger, `mutation($u: Int!, $g: Int!) { removeGroupMember(groupId: $g, uid: $u) { ${GROUP} } }`, u));
      }
      await see(sendGroupImage(api, stranger.token, group.id, jpegBytes(500)));
      await see(q(stranger, `mutation { updateCid(cid: "walk-cid") { ${USER} } }`));
      await see(
        q(stranger, `mutation($k: String!) { setPublicKey(publicKey: $k) { ${USER} } }`, { k: randomBytes(32).toString('base64') }),
      );
      await queries();

      // The walk did meet the others: answers named them (else this test would prove nothing).
      const seen = answers.flatMap((a) => usersIn(a.data));
      for (const other of [groupmate, asker, blocker, quiet])
        expect(
          seen.some((o) => o.uid === other.uid),
          `uid ${other.uid} never answered`,
        ).to.equal(true);
      expect(seen.filter((o) => o.uid === blocker.uid).length).to.be.greaterThan(2);
      // The friend's number and the asker's (a friend once the walk accepted its request) are the
      // stranger's to see; nobody else's is, anywhere.
      const strangers = new Set([groupmate, blocker, quiet].map((u) => u.uid));
      for (const o of seen.filter((o) => strangers.has(o.uid as number))) expect(numberOf(o), `uid ${o.uid}`).to.deep.equal(hidden);
      const text = JSON.stringify(answers);
      for (const other of [groupmate, blocker, quiet]) expect(text).not.to.contain(other.phoneHash);
      for (const o of seen.filter((o) => o.uid === stranger.uid)) expect(numberOf(o)).to.deep.equal(number(stranger));

      // Every operation that takes or returns a user was walked (a new one fails here until it is).
      expect((await userFields()).filter((f) => !(f in WALKED))).to.deep.equal([]);
    });

    describe('each viewer who already knows the number sees it', () => {
      it('the user themself: register, me, updateCid and setPublicKey', async () => {
        const [me] = await users(1);
        expect(numberOf((await q(me, `{ me { ${USER} } }`)).data!.me)).to.deep.equal(number(me));
        expect(numberOf((await q(me, `mutation { updateCid(cid: "c2") { ${USER} } }`)).data!.updateCid)).to.deep.equal(number(me));
        const key = randomBytes(32).toString('base64');
        expect(
          numberOf((await q(me, `mutation($k: String!) { setPublicKey(publicKey: $k) { ${USER} } }`, { k: key })).data!.setPublicKey),
        ).to.deep.equal(number(me));
        const again = await api.gql(`mutation($i: RegisterInput!) { register(input: $i) { phoneHash user { ${USER} } } }`, {
          i: {
            cid: 'c3',
            regionNum: me.regionNum,
            phoneNum: me.phoneNum,
            nickname: 'me',
            verificationCode: await requestCode(api, me.regionNum, me.phoneNum),
          },
        });
        expect(again.data!.register.phoneHash).to.equal(me.phoneHash);
        expect(numberOf(again.data!.register.user)).to.deep.equal(number(me));
      });

      it('friends (state FRIENDS): in friends, the accepting answer, groups and sentImages; no longer once unfriended', async () => {
        const [a, b, c] = await users(3);
        expect(numberOf((await request(a, b)).data!.requestFriend.user)).to.deep.equal(hidden);
        const accepted = (await request(b, a)).data!.requestFriend;
        expect(accepted.state).to.equal('FRIENDS');
        expect(numberOf(accepted.user)).to.deep.equal(number(a));
        await befriend(a, c);
        expect(((await q(a, `{ friends { ${USER} } }`)).data!.friends as Record<string, unknown>[]).map(numberOf)).to.deep.equal([
          number(c),
          number(b),
        ]);
        // In a group of a with b and c, b and c are not friends of each other.
        const g = (await q(a, `mutation($m: [Int!]!) { createGroup(name: "abc", memberUids: $m) { id } }`, { m: [b.uid, c.uid] })).data!
          .createGroup;
        const members = async (who: TestUser) =>
          new Map(
            ((await q(who, `{ groups { ${GROUP} } }`)).data!.groups as { id: number; members: Record<string, unknown>[] }[])
              .find((x) => x.id === g.id)!
              .members.map((m) => [m.uid, numberOf(m)]),
          );
        expect(await members(b)).to.deep.equal(
          new Map([
            [a.uid, number(a)],
            [b.uid, number(b)],
            [c.uid, hidden],
          ]),
        );
        await api.sendImage(a.token, b.uid, jpegBytes(800));
        const receivers = async () =>
          ((await q(a, `{ sentImages { receiver { ${USER} } } }`)).data!.sentImages as { receiver: Record<string, unknown> }[]).map((s) =>
            numberOf(s.receiver),
          );
        expect(await receivers()).to.deep.equal([number(b)]);
        await q(a, 'mutation($u: Int!) { removeFriend(uid: $u) }', { u: b.uid });
        expect(await receivers()).to.deep.equal([hidden]);
        expect((await members(b)).get(a.uid)).to.deep.equal(hidden);
      });

      it("the answers to the viewer's own discoverContacts, and only in that answer", async () => {
        const [viewer, found] = await users(2);
        const res = await q(viewer, `query($h: [String!]!) { discoverContacts(phoneHashes: $h) { ${USER} } }`, { h: [found.phoneHash] });
        expect((res.data!.discoverContacts as Record<string, unknown>[]).map(numberOf)).to.deep.equal([number(found)]);
        // Asking the found user for friendship shows no more than to anyone else.
        expect(numberOf((await request(viewer, found)).data!.requestFriend.user)).to.deep.equal(hidden);
        const outgoing = (await q(viewer, `{ friendRequests { outgoing { ${USER} } } }`)).data!.friendRequests.outgoing as Record<
          string,
          unknown
        >[];
        expect(outgoing.map(numberOf)).to.deep.equal([hidden]);
      });

      it("a message's sender to its receiver (image, images, confirmDownload); the receiver stays hidden from the sender", async () => {
        const [sender, receiver] = await users(2);
        const sent = (await api.sendImage(sender.token, receiver.uid, jpegBytes(900))).data!.sendImage;
        expect(numberOf(sent.sender)).to.deep.equal(number(sender));
        const listed = (await q(receiver, `{ images { ${MESSAGE} } }`)).data!.images as { sender: Record<string, unknown> }[];
        expect(listed.map((m) => numberOf(m.sender))).to.deep.equal([number(sender)]);
        const one = (await q(receiver, `query($k: String!) { image(messageKey: $k) { ${MESSAGE} } }`, { k: sent.messageKey })).data!.image;
        expect(numberOf(one.sender)).to.deep.equal(number(sender));
        const confirmed = (
          await q(receiver, `mutation($k: String!) { confirmDownload(messageKey: $k) { ${MESSAGE} } }`, { k: sent.messageKey })
        ).data!.confirmDownload;
        expect(numberOf(confirmed.sender)).to.deep.equal(number(sender));
        const receivers = (await q(sender, `{ sentImages { receiver { ${USER} } } }`)).data!.sentImages as {
          receiver: Record<string, unknown>;
        }[];
        expect(receivers.map((s) => numberOf(s.receiver))).to.deep.equal([hidden]);
      });
    });

    it("the app's flow end to end: discover, request, accept, send, receive with the sender's hash", async () => {
      const [alice, bob] = await users(2);
      const pushes = await recordPushes(stack());
      const found = (await q(alice, `query($h: [String!]!) { discoverContacts(phoneHashes: $h) { ${USER} } }`, { h: [bob.phoneHash] }))
        .data!.discoverContacts;
      expect(found).to.have.length(1);
      expect(found[0]).to.include({ uid: bob.uid, phoneHash: bob.phoneHash, regionNum: bob.regionNum });
      expect((await request(alice, bob)).data!.requestFriend.state).to.equal('REQUESTED');
      const incoming = (await q(bob, `{ friendRequests { incoming { ${USER} } } }`)).data!.friendRequests.incoming;
      expect(incoming.map((u: Record<string, unknown>) => u.uid)).to.deep.equal([alice.uid]);
      const accepted = (await request(bob, alice)).data!.requestFriend;
      expect(accepted).to.deep.include({ state: 'FRIENDS' });
      expect(numberOf(accepted.user)).to.deep.equal(number(alice));
      const sent = (await api.sendImage(alice.token, bob.uid, jpegBytes(4000))).data!.sendImage;
      const received = (await q(bob, `{ images { ${MESSAGE} downloadUrl } }`)).data!.images;
      expect(received).to.have.length(1);
      expect(received[0]).to.deep.include({ messageKey: sent.messageKey, exist: true });
      expect(numberOf(received[0].sender)).to.deep.equal(number(alice));
      expect(received[0].downloadUrl).to.be.a('string');
      expect((await httpGet(received[0].downloadUrl)).status).to.equal(200);
      const items = await pushes.items();
      expect(items.map((p) => [p.receiverUid, p.payload.event ?? 'image'])).to.deep.equal([
        [bob.uid, 'friend_request'],
        [alice.uid, 'friend_accepted'],
        [bob.uid, 'image'],
      ]);
      // A request carries no number; the image push carries the sender's, as the app expects.
      expect(items[0].payload).to.deep.equal({ event: 'friend_request', uid: alice.uid, nickname: alice.nickname });
      expect(items[2].payload).to.include({ sender_phone: alice.phoneHash, sender_region: alice.regionNum, message_key: sent.messageKey });
    });
  },
  {
    RATE_LIMIT_MULTIPLIER: '1',
    RATE_LIMIT_CODE_RESEND: '100/60',
    RATE_LIMIT_CODE_IP: '100000/3600',
    RATE_LIMIT_CODE_PREFIX: '100000/3600',
    RATE_LIMIT_REGISTER_IP: '100000/3600',
    RATE_LIMIT_SEND_USER: '100000/3600',
  },
);
