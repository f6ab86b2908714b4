import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import Redis from 'ioredis';
import { createLogger } from '../../src/logger';
import { RunningServer, startServer } from '../../src/server';
import { ApiClient, GqlResult } from '../support/client';
import { TestUser } from '../support/factories';
import { someUsers } from '../support/fixtures';
import { recordPushes } from '../support/pushes';
import { needsRedis, REDIS_URL } from '../support/services';
import { STACKS, startStack, TestStack } from '../support/stack';

const DAY = 86_400;

/** Small budgets, so that each is spent in a few calls; the windows are the defaults'. */
const LIMITS = {
  RATE_LIMIT_MULTIPLIER: '1',
  RATE_LIMIT_CODE_RESEND: '100/60',
  RATE_LIMIT_CODE_IP: '100000/3600',
  RATE_LIMIT_CODE_PREFIX: '100000/3600',
  RATE_LIMIT_REGISTER_IP: '100000/3600',
  RATE_LIMIT_FRIEND_REQUEST: '4/1d',
  RATE_LIMIT_BLOCK: '3/1d',
  RATE_LIMIT_GROUP_CREATE: '2/1d',
  RATE_LIMIT_GROUP_MEMBER_ADD: '3/1d',
  RATE_LIMIT_UPDATE_CID: '2/1h',
};

/**
 * Every per-user limit on writes and pushes, spent alternately through two instances that share
 * the counters (as behind a load balancer): the call past each budget is RATE_LIMITED, with
 * retryAfter, on whichever instance it reaches, and writes nothing.
 */
function limitsHoldAcross(instances: () => [ApiClient, ApiClient], stack: () => TestStack): void {
  let one: ApiClient;
  let two: ApiClient;
  const users = (n: number) => someUsers(one, n);
  const errorOf = (r: GqlResult) => r.errors?.[0]?.extensions ?? {};
  const refusedFor = (r: GqlResult, seconds: number) => {
    expect(errorOf(r).code, JSON.stringify(r.errors)).to.equal('RATE_LIMITED');
    expect(errorOf(r).retryAfter).to.be.within(seconds - 300, seconds);
  };
  const ok = (r: GqlResult) => expect(r.errors, JSON.stringify(r.errors)).to.equal(undefined);
  const request = (api: ApiClient, a: TestUser, b: TestUser) =>
    api.gql('mutation($u: Int!) { requestFriend(uid: $u) { state } }', { u: b.uid }, a.token);
  const friendsOf = async (a: TestUser) =>
    ((await one.gql('{ friends { uid } }', {}, a.token)).data!.friends as { uid: number }[]).map((u) => u.uid);

  before(() => {
    [one, two] = instances();
  });

  it('friend requests: RATE_LIMIT_FRIEND_REQUEST a day per user, then RATE_LIMITED with retryAfter', async () => {
    const [asker, ...asked] = await users(6);
    for (const [i, b] of asked.slice(0, 4).entries()) ok(await request(i % 2 ? two : one, asker, b));
    refusedFor(await request(two, asker, asked[4]), DAY);
    refusedFor(await request(one, asker, asked[4]), DAY);
    const outgoing = (await one.gql('{ friendRequests { outgoing { uid } } }', {}, asker.token)).data!.friendRequests.outgoing;
    expect(outgoing).to.have.length(4);
    // Budgets are per user.
    ok(await request(two, asked[4], asker));
  });

  it('a request repeated to the same user after a cancel succeeds, and pushes once a day', async () => {
    const [a, b] = await users(2);
    const pushes = await recordPushes(stack());
    for (const api of [one, two, one]) {
      expect((await request(api, a, b)).data!.requestFriend.state).to.equal('REQUESTED');
      ok(await api.gql('mutation($u: Int!) { removeFriend(uid: $u) }', { u: b.uid }, a.token));
    }
    // Pushes are queued before the answer: every push these calls caused is in the outbox now.
    expect((await pushes.items()).filter((p) => p.receiverUid === b.uid)).to.deep.equal([
      { receiverUid: b.uid, payload: { event: 'friend_request', uid: a.uid, nickname: a.nickname } },
    ]);
  });

  it('blocks and unblocks: RATE_LIMIT_BLOCK a day per user, together, then RATE_LIMITED', async () => {
    const [blocker, x, y] = await users(3);
    ok(await one.gql('mutation($u: Int!) { block(uid: $u) }', { u: x.uid }, blocker.token));
    ok(await two.gql('mutation($u: Int!) { unblock(uid: $u) }', { u: x.uid }, blocker.token));
    ok(await one.gql('mutation($u: Int!) { block(uid: $u) }', { u: x.uid }, blocker.token));
    refusedFor(await two.gql('mutation($u: Int!) { block(uid: $u) }', { u: y.uid }, blocker.token), DAY);
    refusedFor(await one.gql('mutation($u: Int!) { unblock(uid: $u) }', { u: x.uid }, blocker.token), DAY);
    expect((await one.gql('{ blocked { uid } }', {}, blocker.token)).data!.blocked).to.deep.equal([{ uid: x.uid }]);
  });

  it('groups created and members added: RATE_LIMIT_GROUP_CREATE and RATE_LIMIT_GROUP_MEMBER_ADD a day per user', async () => {
    const [owner, ...friends] = await users(5);
    for (const f of friends) {
      ok(await request(one, f, owner));
      ok(await request(two, owner, f));
    }
    expect(await friendsOf(owner)).to.have.length(4);
    const create = (api: ApiClient, members: TestUser[]) =>
      api.gql(
        'mutation($m: [Int!]!) { createGroup(name: "g", memberUids: $m) { id members { uid } } }',
        { m: members.map((m) => m.uid) },
        owner.token,
      );
    const add = (api: ApiClient, groupId: number, members: TestUser[]) =>
      api.gql(
        'mutation($g: Int!, $u: [Int!]!) { addGroupMembers(groupId: $g, uids: $u) { id } }',
        { g: groupId, u: members.map((m) => m.uid) },
        owner.token,
      );
    const first = await create(one, [friends[0]]);
    ok(first);
    const g = first.data!.createGroup.id as number;
    ok(await add(two, g, [friends[1], friends[2]]));
    // Members already in cost nothing; the fourth new member is one too many.
    ok(await add(one, g, [friends[0]]));
    refusedFor(await add(one, g, [friends[3]]), DAY);
    refusedFor(await create(two, [friends[3]]), DAY);
    ok(await create(two, []));
    refusedFor(await create(one, []), DAY);
    const groups = (await one.gql('{ groups { id members { uid } } }', {}, owner.token)).data!.groups as {
      id: number;
      members: unknown[];
    }[];
    expect(groups.map((x) => x.members.length).sort()).to.deep.equal([1, 4]);
  });

  it('updateCid: RATE_LIMIT_UPDATE_CID an hour per user, then RATE_LIMITED with retryAfter', async () => {
    const [u] = await users(1);
    const update = (api: ApiClient, cid: string) => api.gql('mutation($c: String!) { updateCid(cid: $c) { uid } }', { c: cid }, u.token);
    ok(await update(one, 'cid-a'));
    ok(await update(two, 'cid-b'));
    refusedFor(await update(one, 'cid-c'), 3600);
    refusedFor(await update(two, 'cid-c'), 3600);
  });
}

/** A second Glimpse instance on the same database, store and counters as the stack's. */
async function secondInstance(stack: TestStack): Promise<RunningServer> {
  return startServer({ ...stack.config, port: 0 }, createLogger('silent'));
}

for (const kind of STACKS) {
  // SQLite is the single-instance default (two in-process better-sqlite3 writers block the event
  // loop in their busy wait): there the same checks run against one instance.
  const shared = kind === 'mysql-s3';
  const title = shared ? 'shared by two instances through the database' : 'on one instance';
  describe(`per-user limits on writes and pushes, ${title} [${kind}]`, function () {
    this.timeout(60_000);
    let stack: TestStack;
    let other: RunningServer | undefined;
    before(async () => {
      stack = await startStack(kind, LIMITS);
      if (shared) other = await secondInstance(stack);
    });
    after(async () => {
      await other?.stop();
      await stack?.stop();
    });
    limitsHoldAcross(
      () => [new ApiClient(stack.url), new ApiClient((other ?? stack.server).url)],
      () => stack,
    );
  });
}

describe('per-user limits on writes and pushes, shared by two instances through Redis (REDIS_URL)', function () {
  this.timeout(60_000);
  const prefix = `glimpse-test-${randomBytes(4).toString('hex')}:`;
  let stack: TestStack;
  let other: RunningServer;
  before(async function () {
    needsRedis(this);
    // Two instances need a database both can write: MySQL (see above).
    if (!STACKS.includes('mysql-s3')) return this.skip();
    stack = await startStack('mysql-s3', { ...LIMITS, REDIS_URL, REDIS_KEY_PREFIX: prefix });
    other = await secondInstance(stack);
  });
  after(async () => {
    await other?.stop();
    await stack?.stop();
    if (!stack) return;
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  limitsHoldAcross(
    () => [new ApiClient(stack.url), new ApiClient(other.url)],
    () => stack,
  );

  it('kept its counters in Redis, not in the database', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const rules = new Set((await redis.keys(`${prefix}*`)).map((k) => k.slice(prefix.length).split(':')[0]));
      expect([...rules]).to.include.members(['friendRequest', 'friendRequestPush', 'block', 'groupCreate', 'groupMemberAdd', 'updateCid']);
      const [{ n }] = await stack.server.container.db.query('SELECT COUNT(*) AS n FROM rate_limit');
      expect(Number(n)).to.equal(0);
    } finally {
      redis.disconnect();
    }
  });
});
