import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import pino from 'pino';
import { In } from 'typeorm';
import { DownloadGrant } from '../../src/entities/download-grant.entity';
import { PushJob, PushJobStatus } from '../../src/entities/push-job.entity';
import { VerificationCode } from '../../src/entities/verification-code.entity';
import { TypeormMessageRepository } from '../../src/repositories/message.typeorm-repository';
import { TypeormPushJobRepository } from '../../src/repositories/push-job.typeorm-repository';
import { TypeormVerificationCodeRepository } from '../../src/repositories/verification-code.typeorm-repository';
import { RetentionService } from '../../src/services/retention.service';
import { ApiClient, httpGet } from '../support/client';
import { jpegBytes, nextPhone, requestCode, TestUser } from '../support/factories';
import { twoUsers } from '../support/fixtures';
import { describeEachStack, TestStack } from '../support/stack';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeEachStack(
  'retention: grants, finished push jobs and old verification codes are pruned',
  (stack: () => TestStack) => {
    let api: ApiClient;
    let alice: TestUser;
    let bob: TestUser;
    const image = jpegBytes(30_000);
    let messageKey: string;

    const db = () => stack().server.container.db;
    const retention = () => stack().server.container.retention;
    /** The same rules over the same tables, two rows per delete, so that every prune takes several batches. */
    const smallBatches = () =>
      new RetentionService(
        new TypeormMessageRepository(db()),
        new TypeormPushJobRepository(db()),
        new TypeormVerificationCodeRepository(db()),
        {
          downloadUrlTtlMs: stack().config.downloadUrlTtlSeconds * 1000,
          pushJobRetentionMs: stack().config.pushJobRetentionDays * DAY,
          messageRetentionMs: stack().config.messageRetentionDays * DAY,
          batchSize: 2,
        },
        pino({ level: 'silent' }),
      );

    async function mintUrl(): Promise<{ url: string; grantId: number }> {
      const res = await api.gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: messageKey }, bob.token);
      const url = res.data!.image.downloadUrl as string;
      // The token is <messageKey>.<expiry>.<grant id>.<signature>.
      return { url, grantId: Number(url.split('/').pop()!.split('.')[2]) };
    }
    const ageGrant = (id: number, ageMs: number) =>
      db()
        .getRepository(DownloadGrant)
        .update({ id }, { createdAt: new Date(Date.now() - ageMs) });
    const grantIds = async (ids: number[]) =>
      (
        await db()
          .getRepository(DownloadGrant)
          .findBy({ id: In(ids) })
      )
        .map((g) => g.id)
        .sort((a, b) => a - b);

    /** A job left as the dispatcher leaves it, its outcome recorded `ageMs` ago; never due, so the live dispatcher leaves it be. */
    async function pushJob(status: PushJobStatus, ageMs: number): Promise<number> {
      const at = new Date(Date.now() - ageMs);
      const later = new Date(Date.now() + DAY);
      const row = db()
        .getRepository(PushJob)
        .create({
          receiverUid: bob.uid,
          kind: 'test',
          payload: '{}',
          requestId: randomBytes(16).toString('hex'),
          status,
          attempts: 1,
          nextAttemptAt: later,
          leaseToken: status === 'sending' ? randomBytes(16).toString('hex') : null,
          lockedUntil: status === 'sending' ? later : null,
          lastError: status === 'failed' || status === 'skipped' ? 'test' : null,
          expiresAt: null,
          createdAt: at,
          updatedAt: at,
          sentAt: status === 'sent' ? at : null,
        });
      await db().getRepository(PushJob).insert(row);
      return row.id;
    }

    async function code(expiredAgoMs: number, used = false): Promise<number> {
      const expiresAt = new Date(Date.now() - expiredAgoMs);
      const row = db()
        .getRepository(VerificationCode)
        .create({
          phoneHash: randomBytes(32).toString('hex'),
          codeHash: randomBytes(32).toString('hex'),
          sentAt: new Date(expiresAt.getTime() - 600_000),
          expiresAt,
          attempts: 0,
          usedAt: used ? new Date(expiresAt.getTime() - 300_000) : null,
        });
      await db().getRepository(VerificationCode).insert(row);
      return row.id;
    }

    before(async () => {
      api = new ApiClient(stack().url);
      [alice, bob] = await twoUsers(api);
      messageKey = (await api.sendImage(alice.token, bob.uid, image)).data!.sendImage.messageKey;
      // Whatever the set-up left behind, each test starts from a clean slate.
      await retention().prune();
    });

    it('reads PUSH_JOB_RETENTION_DAYS', () => {
      expect(stack().config.pushJobRetentionDays).to.equal(3);
    });

    it('deletes grants whose URL expired over an hour ago, batch after batch; keeps one that expired minutes ago; a live URL still downloads, a pruned one does not', async () => {
      const ttlMs = stack().config.downloadUrlTtlSeconds * 1000;
      // A listing hands out a message's unused grant again until it is half through its life:
      // each is aged before the next is asked for, so that each listing makes a new one.
      const old = [];
      for (let i = 0; i < 5; i++) {
        old.push(await mintUrl());
        // Fixed ages, not derived from the margin: an hour is the promise either way.
        await ageGrant(old[i].grantId, ttlMs + 2 * HOUR);
      }
      const recent = await mintUrl();
      // Its URL cannot be used any more, but a download begun just in time may still be running.
      await ageGrant(recent.grantId, ttlMs + 10 * 60_000);
      const live = await mintUrl();
      expect(new Set([...old, recent, live].map((g) => g.grantId)).size).to.equal(7);

      const result = await smallBatches().prune();
      expect(result.downloadGrants).to.equal(5);
      expect(await grantIds([...old.map((g) => g.grantId), recent.grantId, live.grantId])).to.deep.equal([recent.grantId, live.grantId]);

      const got = await httpGet(live.url);
      expect(got.status).to.equal(200);
      expect(got.body.equals(image)).to.equal(true);
      // Its token is still within its lifetime (only the row was aged): without the grant it serves nothing.
      expect((await httpGet(old[0].url)).status).to.equal(403);
    });

    it('deletes sent, failed and skipped push jobs older than PUSH_JOB_RETENTION_DAYS; never pending or sending ones, nor recent ones', async () => {
      const doomed = [
        await pushJob('sent', 4 * DAY),
        await pushJob('failed', 4 * DAY),
        await pushJob('skipped', 4 * DAY),
        await pushJob('sent', 30 * DAY),
      ];
      const kept = [
        await pushJob('pending', 30 * DAY),
        await pushJob('sending', 30 * DAY),
        await pushJob('sent', 2 * DAY),
        await pushJob('failed', 2 * DAY),
      ];

      const result = await retention().prune();
      expect(result.pushJobs).to.equal(4);
      const left = (
        await db()
          .getRepository(PushJob)
          .findBy({ id: In([...doomed, ...kept]) })
      )
        .map((j) => j.id)
        .sort((a, b) => a - b);
      expect(left).to.deep.equal([...kept].sort((a, b) => a - b));
    });

    it('deletes verification codes a day past their expiry, used or not, and keeps younger ones', async () => {
      const doomed = [await code(DAY + HOUR), await code(DAY + HOUR, true), await code(30 * DAY)];
      const kept = [await code(DAY - HOUR), await code(DAY - HOUR, true), await code(-5 * 60_000)];

      const result = await smallBatches().prune();
      expect(result.verificationCodes).to.equal(3);
      const left = (
        await db()
          .getRepository(VerificationCode)
          .findBy({ id: In([...doomed, ...kept]) })
      )
        .map((c) => c.id)
        .sort((a, b) => a - b);
      expect(left).to.deep.equal([...kept].sort((a, b) => a - b));
    });

    it('a late try with the right code hears EXPIRED while its row is kept, and WRONG once it is pruned', async () => {
      const phone = nextPhone();
      const verificationCode = await requestCode(api, phone.regionNum, phone.phoneNum);
      const phoneHash = createHash('sha256').update(`+${phone.regionNum}${phone.phoneNum}`).digest('hex');
      const register = async () => {
        const input = { cid: randomBytes(16).toString('hex'), ...phone, nickname: 'late', verificationCode };
        const res = await api.gql('mutation($input: RegisterInput!) { register(input: $input) { uid } }', { input });
        return res.errors?.[0]?.extensions?.reason;
      };
      const expire = (agoMs: number) =>
        db()
          .getRepository(VerificationCode)
          .update({ phoneHash }, { expiresAt: new Date(Date.now() - agoMs) });

      await expire(DAY - HOUR);
      expect((await retention().prune()).verificationCodes).to.equal(0);
      expect(await register()).to.equal('EXPIRED');

      await expire(DAY + HOUR);
      expect((await retention().prune()).verificationCodes).to.equal(1);
      expect(await register()).to.equal('WRONG');
    });

    it('a prune with nothing to do deletes nothing', async () => {
      await mintUrl();
      await pushJob('sent', 0);
      await pushJob('pending', 30 * DAY);
      await code(-5 * 60_000);
      const counts = async () => Promise.all([DownloadGrant, PushJob, VerificationCode].map((e) => db().getRepository(e).count()));
      const before = await counts();
      expect(before.every((n) => n > 0)).to.equal(true);

      expect(await retention().prune()).to.deep.equal({ downloadGrants: 0, pushJobs: 0, verificationCodes: 0, messages: 0, images: 0 });
      expect(await counts()).to.deep.equal(before);
    });
  },
  // The scheduled prune stays off, so that only the tests' own prunes delete anything.
  { PUSH_JOB_RETENTION_DAYS: '3', BACKGROUND_JOBS: 'false' },
);
