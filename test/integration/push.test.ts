import { expect } from 'chai';
import { In } from 'typeorm';
import { createDataSource } from '../../src/database';
import { PushJob } from '../../src/entities/push-job.entity';
import { User } from '../../src/entities/user.entity';
import { createLogger } from '../../src/logger';
import { RunningServer, startServer } from '../../src/server';
import { ApiClient, SentMessage } from '../support/client';
import { TestUser } from '../support/factories';
import { FakeGetui } from '../support/fake-getui';
import { sentImage, someUsers, twoUsers } from '../support/fixtures';
import { STACKS, startStack, TestStack } from '../support/stack';
import { eventually as eventuallyWithin } from '../support/wait';

/** Generous: two shared cores may be busy with other work; it returns as soon as the check holds. */
const eventually = (check: () => unknown) => eventuallyWithin(check, 15_000);

const PAYLOAD_KEYS = ['sender_region', 'sender_phone', 'message_id', 'message_key', 'send_time'];

for (const kind of STACKS) {
  describe(`push delivery through GeTui, behind the outbox [${kind}]`, function () {
    this.timeout(60_000);
    let fake: FakeGetui;
    let stack: TestStack;
    let api: ApiClient;

    const jobs = (where: Partial<Record<keyof PushJob, unknown>>) =>
      stack.server.container.db.getRepository(PushJob).find({ where: where as never, order: { id: 'ASC' } });
    const pushesTo = (cid: string) => fake.pushes.filter((p) => p.cid === cid);
    const send = (from: TestUser, to: TestUser, client = api): Promise<SentMessage> => sentImage(client, from, to);
    const pair = () => twoUsers(api);

    before(async () => {
      fake = await new FakeGetui().start();
      stack = await startStack(kind, {
        // Long enough that a push the fake holds open is still open when the test looks.
        ...fake.env(10_000),
        PUSH_POLL_MS: '50',
        PUSH_RETRY_BASE_MS: '20',
        PUSH_RETRY_MAX_MS: '200',
        PUSH_MAX_ATTEMPTS: '100',
      });
      api = new ApiClient(stack.url);
    });
    afterEach(() => {
      fake.up();
      fake.release();
    });
    after(async () => {
      await stack?.stop();
      await fake?.stop();
    });

    it("tells the receiver's device, with exactly the payload's five keys and values, on one token", async () => {
      const [alice, bob] = await pair();
      const sent: SentMessage[] = [];
      for (let i = 0; i < 5; i++) sent.push(await send(alice, bob));
      await eventually(() => expect(pushesTo(bob.cid)).to.have.length(5));
      const got = pushesTo(bob.cid)
        .map((p) => JSON.parse(p.transmission))
        .sort((a, b) => a.message_id - b.message_id);
      expect(got).to.deep.equal(
        sent.map((m) => ({
          sender_region: alice.regionNum,
          sender_phone: alice.phoneHash,
          message_id: m.id,
          message_key: m.messageKey,
          send_time: m.sendTime,
        })),
      );
      for (const p of pushesTo(bob.cid)) {
        expect(Object.keys(JSON.parse(p.transmission))).to.deep.equal(PAYLOAD_KEYS);
        // The image lives 7 days (the default); GeTui keeps a push 3 days at most.
        expect(p.body.settings.ttl).to.equal(259_200_000);
        expect(p.body.push_channel.ios.payload).to.equal(p.transmission);
      }
      expect(fake.authCalls).to.equal(1);
      expect(new Set(fake.pushes.map((p) => p.token)).size).to.equal(1);
      expect(fake.violations).to.deep.equal([]);
      // The outcome is recorded just after GeTui answers.
      await eventually(async () => {
        const rows = await jobs({ receiverUid: bob.uid });
        expect(rows.map((r) => [r.status, r.attempts, r.lastError])).to.deep.equal(Array(5).fill(['sent', 1, null]));
        expect(rows.every((r) => r.sentAt instanceof Date && r.leaseToken === null)).to.equal(true);
      });
    });

    it('re-authenticates once on 10001 and the push arrives', async () => {
      const [alice, bob] = await pair();
      const auths = fake.authCalls;
      fake.answer10001Once();
      await send(alice, bob);
      await eventually(() => expect(pushesTo(bob.cid)).to.have.length(1));
      expect(fake.authCalls - auths).to.equal(1);
      await eventually(async () => expect((await jobs({ receiverUid: bob.uid }))[0]).to.include({ status: 'sent', attempts: 1 }));
      expect(fake.violations).to.deep.equal([]);
    });

    it('delivers every push exactly once after GeTui comes back from an outage', async () => {
      const [alice, bob] = await pair();
      fake.down();
      const sent: SentMessage[] = [];
      for (let i = 0; i < 5; i++) sent.push(await send(alice, bob));
      // Every job has failed at least twice while GeTui was down, and is still waiting.
      await eventually(async () => {
        const rows = await jobs({ receiverUid: bob.uid });
        expect(rows.map((r) => [r.attempts >= 2, r.status === 'pending' || r.status === 'sending', r.lastError])).to.deep.equal(
          Array(5).fill([true, true, 'HTTP 503']),
        );
      });
      fake.up();
      await eventually(async () =>
        expect((await jobs({ receiverUid: bob.uid })).map((r) => r.status)).to.deep.equal(Array(5).fill('sent')),
      );
      const ids = pushesTo(bob.cid).map((p) => JSON.parse(p.transmission).message_id);
      expect(ids.sort((a, b) => a - b)).to.deep.equal(sent.map((m) => m.id));
      expect(fake.duplicates.filter((d) => d.cid === bob.cid)).to.deep.equal([]);
    });

    it('answers sendImage while GeTui holds a push open (sendImage never waits on GeTui)', async () => {
      const [alice, bob] = await pair();
      fake.hang();
      const first = await send(alice, bob);
      await eventually(() => expect(fake.open).to.be.greaterThan(0));
      // A second send is answered while the first push is still held open by GeTui.
      const second = await send(alice, bob);
      expect(second.id).to.be.greaterThan(first.id);
      expect(fake.open).to.be.greaterThan(0);
      expect(pushesTo(bob.cid)).to.have.length(0);
      fake.release();
      await eventually(() => expect(pushesTo(bob.cid)).to.have.length(2));
    });

    it('sends to the device set by updateCid, even for a push queued before it; skips a user without a cid', async () => {
      const [alice, bob] = await pair();
      fake.down();
      await send(alice, bob);
      const res = await api.gql('mutation { updateCid(cid: "bobs-new-phone-cid-0001") { uid } }', {}, bob.token);
      expect(res.errors).to.equal(undefined);
      fake.up();
      await eventually(() => expect(pushesTo('bobs-new-phone-cid-0001')).to.have.length(1));
      expect(pushesTo(bob.cid)).to.have.length(0);

      const [carol, dave] = await pair();
      await stack.server.container.db.getRepository(User).update({ uid: dave.uid }, { cid: null });
      await send(carol, dave);
      await eventually(async () =>
        expect((await jobs({ receiverUid: dave.uid })).map((r) => [r.status, r.lastError])).to.deep.equal([
          ['skipped', 'the receiver has no push client id (cid)'],
        ]),
      );
    });

    it('marks a push to a cid GeTui rejects as failed with the reason, once, and keeps it', async () => {
      const [alice, bob] = await pair();
      fake.rejectCid(bob.cid);
      const before = fake.pushRequests;
      await send(alice, bob);
      await eventually(async () =>
        expect((await jobs({ receiverUid: bob.uid }))[0]).to.include({
          status: 'failed',
          attempts: 1,
          lastError: 'GeTui 20001 target user is invalid',
        }),
      );
      expect(fake.pushRequests - before).to.equal(1);
    });

    it('loses nothing across a restart: the push in flight is finished, the rest go out after the start', async () => {
      const [alice, bob] = await pair();
      fake.hang();
      const sent: SentMessage[] = [];
      for (let i = 0; i < 3; i++) sent.push(await send(alice, bob));
      await eventually(() => expect(fake.open).to.be.greaterThan(0));
      const stopping = stack.server.stop();
      // The server waits for the push GeTui is holding; let GeTui answer it.
      await new Promise((r) => setTimeout(r, 50));
      fake.release();
      await stopping;

      // Between the stop and the start: the push in flight was finished and recorded, the rest wait.
      const peek = createDataSource(stack.config.database);
      await peek.initialize();
      const between = await peek.getRepository(PushJob).find({ where: { receiverUid: bob.uid }, order: { id: 'ASC' } });
      await peek.destroy();
      const delivered = pushesTo(bob.cid).length;
      expect(delivered).to.be.at.least(1);
      expect(between.filter((r) => r.status === 'sent')).to.have.length(delivered);
      expect(between.filter((r) => r.status === 'pending')).to.have.length(3 - delivered);

      await stack.restart();
      api = new ApiClient(stack.url);
      await eventually(async () =>
        expect((await jobs({ receiverUid: bob.uid })).map((r) => r.status)).to.deep.equal(['sent', 'sent', 'sent']),
      );
      const rows = await jobs({ receiverUid: bob.uid });
      expect(rows.map((r) => r.attempts)).to.deep.equal([1, 1, 1]);
      expect(
        pushesTo(bob.cid)
          .map((p) => JSON.parse(p.transmission).message_id)
          .sort((a, b) => a - b),
      ).to.deep.equal(sent.map((m) => m.id));
      expect(fake.duplicates.filter((d) => d.cid === bob.cid)).to.deep.equal([]);
    });

    it('claims each due job once, and a job whose lease ran out (a crashed sender) again with the same request_id', async () => {
      const repo = stack.server.container.pushJobs;
      const claimRest = async (at: Date, count: number) => {
        const got: Awaited<ReturnType<typeof repo.claimDue>> = [];
        for (let i = 0; i < 50 && got.length < count; i++) got.push(...(await repo.claimDue(at, count - got.length, 60_000)));
        return got;
      };
      const [, bob] = await pair();
      // Due only in the future, so this server's own dispatcher leaves them alone.
      const at = new Date(Date.now() + 365 * 24 * 3600_000);
      const queued = await repo.enqueue(
        Array.from({ length: 12 }, () => ({ receiverUid: bob.uid, kind: 'test', payload: '{}', expiresAt: null })),
        at,
      );
      const claims = (await Promise.all([1, 2, 3, 4].map(() => repo.claimDue(at, 3, 60_000)))).flat();
      expect(claims.length).to.be.greaterThan(0);
      expect(new Set(claims.map((c) => c.job.id)).size).to.equal(claims.length);
      expect(claims.every((c) => c.cid === bob.cid && c.job.attempts === 1)).to.equal(true);
      // SKIP LOCKED passes over rows another scan holds at that instant; later claims take them.
      const all = [...claims, ...(await claimRest(at, 12 - claims.length))];
      expect(all.map((c) => c.job.id).sort((a, b) => a - b)).to.deep.equal(queued.map((j) => j.id));
      expect(await repo.claimDue(at, 100, 60_000)).to.deep.equal([]);

      const later = new Date(at.getTime() + 60_000);
      const again = await claimRest(later, 12);
      expect(again.map((c) => c.job.id).sort((a, b) => a - b)).to.deep.equal(queued.map((j) => j.id));
      expect(again.every((c) => c.job.attempts === 2)).to.equal(true);
      const first = claims[0].job;
      expect(again.find((c) => c.job.id === first.id)!.job.requestId).to.equal(first.requestId);
      // The dead claim's outcome arrives late and is refused; the live one is kept.
      expect(await repo.record(first, { status: 'sent' }, later)).to.equal(false);
      expect(await repo.record(again.find((c) => c.job.id === first.id)!.job, { status: 'failed', error: 'test' }, later)).to.equal(true);
      // Sent outcomes recorded together obey the same rule: only the live claim's count.
      const others = again
        .filter((c) => c.job.id !== first.id)
        .slice(0, 3)
        .map((c) => c.job);
      const dead = claims
        .concat(all)
        .filter((c) => others.some((o) => o.id === c.job.id))
        .map((c) => c.job);
      expect(await repo.recordSent(dead, later)).to.equal(0);
      expect(await repo.recordSent(others, later)).to.equal(3);
      const recorded = await stack.server.container.db.getRepository(PushJob).findBy({ id: In(others.map((j) => j.id)) });
      expect(recorded.map((r) => [r.status, r.leaseToken, r.sentAt instanceof Date])).to.deep.equal(Array(3).fill(['sent', null, true]));
      expect(await repo.recordSent(others, later)).to.equal(0);
      await stack.server.container.db.getRepository(PushJob).update({ id: In(queued.map((j) => j.id)) }, { status: 'skipped' });
    });

    if (kind === 'mysql-s3') {
      it('runs two server instances on one database side by side, each job sent once, with 16 concurrent sends', async () => {
        let second: RunningServer | undefined;
        try {
          second = await startServer({ ...stack.config, port: 0 }, createLogger(stack.config.logLevel));
          const other = new ApiClient(second.url);
          const users = await someUsers(api, 4);
          fake.hang();
          const sent = await Promise.all(Array.from({ length: 16 }, (_, i) => send(users[i % 4], users[(i + 1) % 4], i % 2 ? other : api)));
          // Whichever instance claims first is stuck on pushes GeTui holds open, so the other claims
          // the jobs left: both are now sending, from their own tokens.
          await eventually(() => expect(new Set(fake.openTokens).size).to.equal(2));
          fake.release();
          const receiverCids = new Set(users.map((u) => u.cid));
          await eventually(() => expect(fake.pushes.filter((p) => receiverCids.has(p.cid))).to.have.length(16));
          const mine = fake.pushes.filter((p) => receiverCids.has(p.cid));
          expect(mine.map((p) => JSON.parse(p.transmission).message_id).sort((a, b) => a - b)).to.deep.equal(
            sent.map((m) => m.id).sort((a, b) => a - b),
          );
          expect(fake.duplicates.filter((d) => receiverCids.has(d.cid))).to.deep.equal([]);
          // Tokens are per instance: two tokens means both instances sent pushes.
          expect(new Set(mine.map((p) => p.token)).size).to.equal(2);
          await eventually(async () => {
            const rows = await jobs({ receiverUid: In(users.map((u) => u.uid)) });
            expect(rows.map((r) => r.status)).to.deep.equal(Array(16).fill('sent'));
          });
        } finally {
          fake.release();
          await second?.stop();
        }
      });
    } else {
      it.skip(
        'runs two server instances on one database side by side (MySQL only: SQLite is the single-instance default, and two in-process better-sqlite3 writers block the event loop in their busy wait)',
      );
    }
  });
}
