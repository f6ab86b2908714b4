import { expect } from 'chai';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { ApiClient, httpGet } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { FakeGetui } from '../support/fake-getui';
import { downloadUrlOf, sentImage } from '../support/fixtures';
import { parseExposition, scrape, Scrape } from '../support/metrics';
import { freePort, STACKS, startStack, TestStack } from '../support/stack';
import { eventually as eventuallyWithin } from '../support/wait';

/** Generous: two shared cores may be busy with other work; it returns as soon as the check holds. */
const eventually = (check: () => unknown) => eventuallyWithin(check, 15_000);

for (const kind of STACKS) {
  describe(`GET /metrics on METRICS_PORT [${kind}]`, function () {
    this.timeout(60_000);
    let fake: FakeGetui;
    let stack: TestStack;
    let api: ApiClient;
    let metricsUrl: string;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    const rejectedCid = 'rejected-cid-0000000001';
    const metrics = () => scrape(metricsUrl);
    const send = (from: TestUser, to: TestUser, size = 5000) => sentImage(api, from, to, jpegBytes(size));

    before(async () => {
      fake = await new FakeGetui().start();
      fake.rejectCid(rejectedCid);
      stack = await startStack(kind, {
        ...fake.env(5_000),
        METRICS_PORT: String(await freePort()),
        PUSH_POLL_MS: '50',
        // Real limits: the fourth send of an hour is refused.
        RATE_LIMIT_MULTIPLIER: '1',
        RATE_LIMIT_SEND_USER: '3/1h',
      });
      api = new ApiClient(stack.url);
      metricsUrl = stack.server.metricsUrl!;
      [alice, bob, carol] = [await registerUser(api), await registerUser(api), await registerUser(api, { cid: rejectedCid })];
    });
    after(async () => {
      await stack?.stop();
      await fake?.stop();
    });

    it('is served on its own port only: the API port answers 404, and the metrics port serves nothing else', async () => {
      expect(metricsUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(new URL(metricsUrl).port).to.not.equal(new URL(stack.url).port);
      expect((await httpGet(`${stack.url}/metrics`)).status).to.equal(404);
      expect((await httpGet(`${metricsUrl}/graphql`)).status).to.equal(404);
      const res = await fetch(`${metricsUrl}/metrics`);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      const m = parseExposition(await res.text());
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        expect(m.names, name).to.include(name);
      }
      expect(m.value('glimpse_subscriptions_open')).to.equal(0);
      expect(m.value('glimpse_ready')).to.equal(1);
    });

    it('counts a send, its bytes, its download, the push it made and the image it destroyed', async () => {
      const before = await metrics();
      const bytes = 7000;
      const sent = await send(alice, bob, bytes);
      await eventually(() => expect(fake.pushes.some((p) => JSON.parse(p.transmission).message_key === sent.messageKey)).to.equal(true));
      const url = await downloadUrlOf(api, bob, sent.messageKey);
      const download = await httpGet(url);
      expect(download.status).to.equal(200);
      const confirmed = await api.gql(
        'mutation ConfirmIt($k: String!) { confirmDownload(messageKey: $k) { exist } }',
        { k: sent.messageKey },
        bob.token,
      );
      expect(confirmed.errors).to.equal(undefined);

      await eventually(async () => {
        const after = await metrics();
        const grew = (name: string, labels?: Record<string, string>) =>
          (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
        expect(grew('glimpse_images_sent_total')).to.equal(1);
        expect(grew('glimpse_image_bytes_received_total')).to.equal(bytes);
        expect(grew('glimpse_image_bytes_served_total')).to.equal(bytes);
        expect(grew('glimpse_images_destroyed_total', { reason: 'viewed' })).to.equal(1);
        expect(grew('glimpse_push_jobs_total', { kind: 'image', outcome: 'sent' })).to.equal(1);
        // The operation is labelled by its name, and an anonymous one as such.
        expect(grew('glimpse_graphql_requests_total', { operation: 'ConfirmIt', type: 'mutation', code: 'OK' })).to.equal(1);
        expect(grew('glimpse_graphql_requests_total', { operation: 'anonymous', type: 'mutation', code: 'OK' })).to.equal(1);
        expect(grew('glimpse_graphql_request_duration_seconds_count', { operation: 'anonymous', type: 'query' })).to.be.greaterThan(0);
      });
    });

    it('counts the blobs the expiry sweep deletes: expired ones, and ones whose messages had all ended earlier', async () => {
      const images = stack.server.container.db.getRepository(Image);
      const expired = await send(alice, bob, 100);
      const ended = await send(alice, bob, 100);
      await images.update({ objectName: expired.messageKey }, { expiresAt: new Date(Date.now() - 1000) });
      // As a confirm leaves an image whose blob it could not delete: ended, blob still there.
      const endedAt = new Date(Date.now() - 5 * 60_000);
      await stack.server.container.db
        .getRepository(Message)
        .update({ messageKey: ended.messageKey }, { exist: false, endReason: 'confirmed', endedAt });
      await images.update({ objectName: ended.messageKey }, { endedAt });
      const before = await metrics();
      await stack.server.container.lifecycle.sweep();
      await eventually(async () => {
        const after = await metrics();
        for (const reason of ['expired', 'ended']) {
          const grew =
            after.value('glimpse_images_destroyed_total', { reason })! - before.value('glimpse_images_destroyed_total', { reason })!;
          expect(grew, reason).to.equal(1);
        }
      });
    });

    it('counts a push GeTui refuses as failed', async () => {
      const before = (await metrics()).value('glimpse_push_jobs_total', { kind: 'image', outcome: 'failed' }) ?? 0;
      await send(bob, carol);
      await eventually(async () =>
        expect((await metrics()).value('glimpse_push_jobs_total', { kind: 'image', outcome: 'failed' })).to.equal(before + 1),
      );
    });

    it('counts a refused send under its rule, and the request under its error code', async () => {
      const dave = await registerUser(api);
      for (let i = 0; i < 3; i++) await send(dave, alice, 100);
      const refused = await api.sendImage(dave.token, alice.uid, jpegBytes(100));
      expect(refused.errors?.[0]?.extensions?.code).to.equal('RATE_LIMITED');
      const m = await metrics();
      expect(m.value('glimpse_rate_limited_total', { rule: 'sendUser' })).to.equal(1);
      expect(m.value('glimpse_rate_limited_total', { rule: 'codePhone' })).to.equal(0);
      expect(m.value('glimpse_graphql_requests_total', { operation: 'anonymous', type: 'mutation', code: 'RATE_LIMITED' })).to.equal(1);
    });

    it('labels requests that never named a valid operation `other`, and keeps user data out of every label', async () => {
      const invalid = await api.gql('query Sneaky13800000001 { noSuchField }', {}, alice.token);
      expect(invalid.errors?.[0]?.extensions?.code).to.equal('GRAPHQL_VALIDATION_FAILED');
      const m = await metrics();
      expect(
        m.value('glimpse_graphql_requests_total', { operation: 'other', type: 'unknown', code: 'GRAPHQL_VALIDATION_FAILED' }),
      ).to.be.greaterThan(0);
      for (const secret of [alice.phoneNum, alice.phoneHash, alice.token, bob.cid, 'Sneaky13800000001'])
        expect(m.text).to.not.contain(secret);
    });

    it('reads the outbox backlog from the shared table: pending jobs and how long the oldest has been due', async () => {
      const dispatcher = stack.server.container.dispatcher;
      await dispatcher.stop();
      try {
        await send(carol, bob, 100);
        await eventually(async () => {
          const m: Scrape = await metrics();
          expect(m.value('glimpse_push_outbox_pending')).to.be.at.least(1);
          expect(m.value('glimpse_push_outbox_oldest_pending_seconds')).to.be.greaterThan(0);
        });
      } finally {
        dispatcher.start();
      }
      await eventually(async () => {
        const m = await metrics();
        expect(m.value('glimpse_push_outbox_pending')).to.equal(0);
        expect(m.value('glimpse_push_outbox_oldest_pending_seconds')).to.equal(0);
      });
    });
  });
}
