import { expect } from 'chai';
import { createLogger } from '../../src/logger';
import { RunningServer, startServer } from '../../src/server';
import { ApiClient } from '../support/client';
import { jpegBytes, registerUser } from '../support/factories';
import { twoUsers } from '../support/fixtures';
import { EventSubscriber, subscriptionsLive } from '../support/realtime';
import { needsMysql, needsRedis, REDIS_URL } from '../support/services';
import { startStack, TestStack } from '../support/stack';

const FRIEND = 'mutation($u: Int!) { requestFriend(uid: $u) { state } }';

/**
 * Two instances on one MariaDB database (as behind a load balancer): an action on one reaches
 * a subscriber on the other, through Redis with REDIS_URL and through the outbox table without.
 * MySQL only: SQLite is the single-instance default.
 */
for (const via of ['the outbox table (no REDIS_URL)', 'Redis pub/sub (REDIS_URL)'] as const) {
  const redis = via.startsWith('Redis');
  describe(`realtime across two instances, through ${via}`, function () {
    this.timeout(60_000);
    let stack: TestStack;
    let second: RunningServer;
    let one: ApiClient;
    let two: ApiClient;
    const open: EventSubscriber[] = [];

    before(async function () {
      needsMysql(this);
      if (redis) needsRedis(this);
      const env: Record<string, string> = { SUBSCRIPTIONS_PER_USER: '2', REALTIME_POLL_MS: '100' };
      if (redis) Object.assign(env, { REDIS_URL, REDIS_KEY_PREFIX: `glimpse-test-${process.pid}-${Date.now()}:` });
      stack = await startStack('mysql-s3', env);
      second = await startServer({ ...stack.config, port: 0 }, createLogger('silent'));
      one = new ApiClient(stack.url);
      two = new ApiClient(second.url);
    });
    after(async () => {
      for (const s of open.splice(0)) await s.stop();
      await second?.stop();
      await stack?.stop();
    });

    it('delivers each event of an action on one instance to a subscriber on the other, once', async () => {
      const [alice, bob] = await twoUsers(one);
      const onTwo = new EventSubscriber(second.url, bob.token);
      const onOne = new EventSubscriber(stack.url, bob.token);
      open.push(onTwo, onOne);
      await subscriptionsLive(second, bob.uid);
      await subscriptionsLive(stack.server, bob.uid);
      await one.gql(FRIEND, { u: bob.uid }, alice.token);
      const sent = (await one.sendImage(alice.token, bob.uid, jpegBytes(1024))).data!.sendImage;
      for (const s of [onTwo, onOne]) {
        const events = await s.waitForEvents(2);
        expect(events.map((e) => e.kind)).to.deep.equal(['FRIEND_REQUEST', 'IMAGE_RECEIVED']);
        expect(events[1].message!.messageKey).to.equal(sent.messageKey);
      }
      // And the other way round; nothing arrived twice meanwhile.
      await two.gql(FRIEND, { u: alice.uid }, bob.token);
      const onOneForAlice = new EventSubscriber(stack.url, alice.token);
      open.push(onOneForAlice);
      await subscriptionsLive(stack.server, alice.uid);
      await two.gql('mutation($u: Int!) { removeFriend(uid: $u) }', { u: alice.uid }, bob.token);
      await two.gql(FRIEND, { u: alice.uid }, bob.token);
      const [request] = await onOneForAlice.waitForEvents(1);
      expect(request).to.deep.include({ kind: 'FRIEND_REQUEST', user: { uid: bob.uid, nickname: bob.nickname } });
      const all = await onTwo.waitForEvents(2);
      expect(all).to.have.length(2);
    });

    it(`counts SUBSCRIPTIONS_PER_USER ${redis ? 'across instances' : 'per instance'}`, async () => {
      const alice = await registerUser(one);
      const a = new EventSubscriber(stack.url, alice.token);
      const b = new EventSubscriber(stack.url, alice.token);
      open.push(a, b);
      await subscriptionsLive(stack.server, alice.uid, 2);
      const c = new EventSubscriber(second.url, alice.token);
      open.push(c);
      if (redis) {
        const error = await c.waitForError();
        expect(error.extensions.code).to.equal('RATE_LIMITED');
        await a.stop();
        await subscriptionsLive(stack.server, alice.uid, 1);
        const d = new EventSubscriber(second.url, alice.token);
        open.push(d);
        await subscriptionsLive(second, alice.uid, 1);
      } else {
        await subscriptionsLive(second, alice.uid, 1);
      }
    });
  });
}
