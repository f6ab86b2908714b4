import { expect } from 'chai';
import { createPublicKey, verify } from 'node:crypto';
import { ApolloClient, gql, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ApiClient } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { someUsers, twoUsers } from '../support/fixtures';
import { EventSubscriber, RawSocket, subscriptionsLive, wsUrl } from '../support/realtime';
import { describeEachStack, TestStack } from '../support/stack';
import { eventually } from '../support/wait';

const FRIEND = 'mutation($u: Int!) { requestFriend(uid: $u) { state } }';

describeEachStack(
  'realtime: the events subscription over WebSocket',
  (stack: () => TestStack) => {
    let api: ApiClient;
    const open: { stop(): Promise<void> | void }[] = [];
    const subscribe = async (user: TestUser, options: { retry?: boolean } = {}) => {
      const s = new EventSubscriber(() => stack().url, user.token, options);
      open.push(s);
      return s;
    };

    before(() => {
      api = new ApiClient(stack().url);
    });
    afterEach(async () => {
      for (const s of open.splice(0)) await s.stop();
    });

    it('IMAGE_RECEIVED carries the Message as the image query answers it, with its download URL', async () => {
      const [alice, bob] = await twoUsers(api);
      const sub = await subscribe(bob);
      await subscriptionsLive(stack().server, bob.uid);
      const sent = (await api.sendImage(alice.token, bob.uid, jpegBytes(2048))).data!.sendImage;
      const [event] = await sub.waitForEvents(1);
      expect(event.kind).to.equal('IMAGE_RECEIVED');
      expect(event.messageId).to.equal(sent.id);
      expect(event.at).to.equal(sent.sendTime);
      expect(event.message).to.include({ id: sent.id, messageKey: sent.messageKey, receiverUid: bob.uid });
      expect(event.message!.sender.uid).to.equal(alice.uid);
      const download = await fetch(event.message!.downloadUrl!);
      expect(download.status).to.equal(200);
      expect((await download.arrayBuffer()).byteLength).to.equal(2048);
    });

    it('IMAGE_DESTROYED reaches the sender with a receipt that verifies, and SCREENSHOT too; each event once', async () => {
      const [alice, bob] = await twoUsers(api);
      const sub = await subscribe(alice);
      await subscriptionsLive(stack().server, alice.uid);
      const sent = (await api.sendImage(alice.token, bob.uid, jpegBytes(1024))).data!.sendImage;
      const shot = await api.gql('mutation($k: String!) { reportScreenshot(messageKey: $k) }', { k: sent.messageKey }, bob.token);
      expect(shot.errors).to.equal(undefined);
      const confirmed = await api.gql(
        'mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }',
        { k: sent.messageKey },
        bob.token,
      );
      expect(confirmed.errors).to.equal(undefined);
      const [screenshot, destroyed] = await sub.waitForEvents(2);
      expect(screenshot).to.deep.include({ kind: 'SCREENSHOT', messageId: sent.id, message: null, user: null });
      expect(destroyed).to.deep.include({ kind: 'IMAGE_DESTROYED', messageId: sent.id, reason: 'viewed', message: null });
      const jwk = (await (await fetch(`${stack().url}/.well-known/glimpse-receipt-key`)).json()) as { kty: string; crv: string; x: string };
      const signed = `glimpse-receipt-v1|${sent.id}|viewed|${destroyed.at}`;
      expect(
        verify(null, Buffer.from(signed), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(destroyed.receipt!, 'base64url')),
      ).to.equal(true);
      // A third action shows nothing arrived twice in between.
      await api.gql(FRIEND, { u: alice.uid }, bob.token);
      const all = await sub.waitForEvents(3);
      expect(all.map((e) => e.kind)).to.deep.equal(['SCREENSHOT', 'IMAGE_DESTROYED', 'FRIEND_REQUEST']);
    });

    it('FRIEND_REQUEST and FRIEND_ACCEPTED name the other person, to them only', async () => {
      const [alice, bob, carol] = await someUsers(api, 3);
      const [forAlice, forBob, forCarol] = await Promise.all([subscribe(alice), subscribe(bob), subscribe(carol)]);
      for (const u of [alice, bob, carol]) await subscriptionsLive(stack().server, u.uid);
      await api.gql(FRIEND, { u: bob.uid }, alice.token);
      const [request] = await forBob.waitForEvents(1);
      expect(request).to.deep.include({ kind: 'FRIEND_REQUEST', user: { uid: alice.uid, nickname: alice.nickname } });
      await api.gql(FRIEND, { u: alice.uid }, bob.token);
      const [accepted] = await forAlice.waitForEvents(1);
      expect(accepted).to.deep.include({ kind: 'FRIEND_ACCEPTED', user: { uid: bob.uid, nickname: bob.nickname } });
      // Carol heard nothing of it, and Bob only his request (checked after both arrived).
      expect(forCarol.events).to.deep.equal([]);
      expect(forBob.events.map((e) => e.kind)).to.deep.equal(['FRIEND_REQUEST']);
    });

    it('ACCOUNT_MOVED (the account_moved push) reaches the old device, whose socket then closes with 4403', async () => {
      const alice = await registerUser(api);
      const sub = await subscribe(alice);
      await subscriptionsLive(stack().server, alice.uid);
      const before = Date.now();
      // The move itself enqueues the account_moved push to the old device (another cid).
      await registerUser(api, { regionNum: alice.regionNum, phoneNum: alice.phoneNum });
      const [event] = await sub.waitForEvents(1);
      expect(event.kind).to.equal('ACCOUNT_MOVED');
      expect(Date.parse(String(event.at))).to.be.within(before - 1000, Date.now());
      expect((await sub.waitForClose()).code).to.equal(4403);
    });

    it('closes the socket with 4403 once the token stops working (the number registered on another device)', async () => {
      const alice = await registerUser(api);
      const sub = await subscribe(alice);
      await subscriptionsLive(stack().server, alice.uid);
      await registerUser(api, { regionNum: alice.regionNum, phoneNum: alice.phoneNum });
      expect(await sub.waitForClose()).to.deep.equal({ code: 4403, reason: 'Forbidden' });
      expect(stack().server.container.realtime.subscriptionCount(alice.uid)).to.equal(0);
    });

    it('closes with 4403 for a missing or a wrong token, and for a token in no connection_init at all', async () => {
      const alice = await registerUser(api);
      for (const token of [null, `${alice.phoneHash}.${'A'.repeat(43)}`, 'nonsense']) {
        const raw = new RawSocket(stack().url);
        await raw.init(token);
        expect((await raw.waitForClose()).code, String(token)).to.equal(4403);
      }
      const early = new RawSocket(stack().url);
      await early.opened;
      early.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { events { kind } }' } });
      expect((await early.waitForClose()).code).to.equal(4401);
    });

    it(`allows SUBSCRIPTIONS_PER_USER (2 here) open subscriptions per user; completing one frees its slot`, async () => {
      const alice = await registerUser(api);
      const first = await subscribe(alice);
      const second = await subscribe(alice);
      await subscriptionsLive(stack().server, alice.uid, 2);
      const third = await subscribe(alice);
      const error = await third.waitForError();
      expect(error.extensions).to.deep.include({ code: 'RATE_LIMITED', limit: 2 });
      await second.stop();
      await subscriptionsLive(stack().server, alice.uid, 1);
      const fourth = await subscribe(alice);
      await subscriptionsLive(stack().server, alice.uid, 2);
      const bob = await registerUser(api);
      await api.gql(FRIEND, { u: alice.uid }, bob.token);
      await first.waitForEvents(1);
      await fourth.waitForEvents(1);
    });

    it('applies the GraphQL resource limits to subscription documents, and serves only subscriptions', async () => {
      const alice = await registerUser(api);
      const deep = new EventSubscriber(stack().url, alice.token, {
        query: 'subscription { events { message { group { owner { uid } } } } }',
      });
      open.push(deep);
      const tooDeep = await deep.waitForError();
      expect(tooDeep.extensions.code).to.equal('GRAPHQL_VALIDATION_FAILED');
      expect(tooDeep.message).to.contain('depth limit of 4');
      const long = new EventSubscriber(stack().url, alice.token, { query: `subscription { events { ${'kind '.repeat(1000)} } }` });
      open.push(long);
      const tooLong = await long.waitForError();
      expect(tooLong.message).to.contain('Token limit of 1000 exceeded');
      const query = new EventSubscriber(stack().url, alice.token, { query: '{ me { uid } }' });
      open.push(query);
      const notHere = await query.waitForError();
      expect(notHere.extensions.code).to.equal('BAD_REQUEST');
      expect(stack().server.container.realtime.subscriptionCount(alice.uid)).to.equal(0);
    });

    it('closes a socket that sends garbage (4400) or an oversized message (1009); pings an idle one', async () => {
      const alice = await registerUser(api);
      const garbage = new RawSocket(stack().url);
      await garbage.init(alice.token);
      await garbage.waitFor((m) => m.type === 'connection_ack');
      garbage.send('{"this is": not json');
      expect((await garbage.waitForClose()).code).to.equal(4400);

      const huge = new RawSocket(stack().url);
      await huge.init(alice.token);
      await huge.waitFor((m) => m.type === 'connection_ack');
      huge.send({ id: '1', type: 'subscribe', payload: { query: `subscription { events { kind } } #${'x'.repeat(70_000)}` } });
      expect((await huge.waitForClose()).code).to.equal(1009);

      const idle = new RawSocket(stack().url);
      await idle.init(alice.token);
      await eventually(() => expect(idle.pings).to.be.greaterThan(0), 15_000);
      expect(idle.closed).to.equal(null);
      idle.close();
    });

    it('works with Apollo Client and GraphQLWsLink, unchanged', async () => {
      const [alice, bob] = await twoUsers(api);
      const wsClient = createClient({
        url: wsUrl(stack().url),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${bob.token}` },
      });
      const apollo = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
      const seen: { kind: string; user: { uid: number } | null }[] = [];
      const subscription = apollo
        .subscribe<{ events: { kind: string; user: { uid: number } | null } }>({
          query: gql('subscription OnEvent { events { kind at user { uid nickname } } }'),
        })
        .subscribe({ next: (r) => void (r.data && seen.push(r.data.events)) });
      open.push({
        stop: async () => {
          subscription.unsubscribe();
          await wsClient.dispose();
        },
      });
      await subscriptionsLive(stack().server, bob.uid);
      await api.gql(FRIEND, { u: bob.uid }, alice.token);
      await eventually(() => expect(seen).to.have.length(1), 15_000);
      expect(seen[0]).to.deep.include({ kind: 'FRIEND_REQUEST' });
      expect(seen[0].user!.uid).to.equal(alice.uid);
    });

    it('closes sockets with 1012 when the instance stops; the client reconnects once it is back', async () => {
      const [alice, bob] = await twoUsers(api);
      const sub = await subscribe(bob, { retry: true });
      await subscriptionsLive(stack().server, bob.uid);
      await stack().server.stop();
      expect(await sub.waitForClose()).to.deep.equal({ code: 1012, reason: 'Service restart' });
      await stack().restart();
      api = new ApiClient(stack().url);
      await subscriptionsLive(() => stack().server, bob.uid);
      await api.gql(FRIEND, { u: bob.uid }, alice.token);
      const [event] = await sub.waitForEvents(1);
      expect(event.kind).to.equal('FRIEND_REQUEST');
    });
  },
  {
    SUBSCRIPTIONS_PER_USER: '2',
    REALTIME_AUTH_CHECK_SECONDS: '1',
    REALTIME_KEEPALIVE_SECONDS: '1',
    REALTIME_POLL_MS: '100',
    GRAPHQL_MAX_DEPTH: '4',
  },
);

describeEachStack(
  'realtime: an event committed on the subscriber’s own instance',
  (stack: () => TestStack) => {
    it('arrives from the commit itself, without waiting for the outbox poll (a minute here)', async () => {
      const api = new ApiClient(stack().url);
      const [alice, bob] = await twoUsers(api);
      const sub = new EventSubscriber(stack().url, bob.token);
      try {
        await subscriptionsLive(stack().server, bob.uid);
        await api.gql(FRIEND, { u: bob.uid }, alice.token);
        const [event] = await sub.waitForEvents(1);
        expect(event.kind).to.equal('FRIEND_REQUEST');
      } finally {
        await sub.stop();
      }
    });
  },
  { REALTIME_POLL_MS: '60000' },
);
