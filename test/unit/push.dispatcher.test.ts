import { Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import { LogPushProvider } from '../../src/adapters/log.push-provider';
import type { PushResult } from '../../src/adapters/push-provider';
import { PushDispatcher, PushDispatcherOptions } from '../../src/services/push.dispatcher';
import { imagePushPayload } from '../../src/services/push.payloads';
import { FakePushJobRepository, ScriptedPushProvider } from '../support/fakes';
import { eventually } from '../support/wait';

describe('PushDispatcher (unit)', () => {
  let clock: Date;
  let cids: Map<number, string | null>;
  let jobs: FakePushJobRepository;
  let provider: ScriptedPushProvider;
  const silent = pino({ level: 'silent' });
  const options: PushDispatcherOptions = {
    pollMs: 10,
    batchSize: 10,
    maxAttempts: 4,
    retryBaseMs: 1000,
    retryMaxMs: 5000,
    leaseMs: 60_000,
  };
  const dispatcher = (over: Partial<PushDispatcherOptions> = {}, random = () => 1) =>
    new PushDispatcher({ jobs, provider, log: silent, now: () => clock, random }, { ...options, ...over });
  const later = (ms: number) => {
    clock = new Date(clock.getTime() + ms);
  };
  const enqueue = async (receiverUid = 2, expiresAt: Date | null = new Date(clock.getTime() + 7 * 24 * 3600_000)) =>
    (await jobs.enqueue([{ receiverUid, kind: 'image', payload: '{"message_id":1}', expiresAt }], clock))[0];

  beforeEach(() => {
    clock = new Date('2026-03-01T00:00:00.000Z');
    cids = new Map([[2, 'cid-of-bob-0001']]);
    jobs = new FakePushJobRepository((uid) => cids.get(uid) ?? null);
    provider = new ScriptedPushProvider();
  });

  it('sends a due job to the cid the receiver has when it is sent, with its request_id and a ttl of the time left', async () => {
    const job = await enqueue(2, new Date(clock.getTime() + 3600_000));
    cids.set(2, 'cid-of-bobs-new-phone');
    later(1000);
    await dispatcher().dispatchOnce();
    expect(provider.sent).to.have.length(1);
    expect(provider.sent[0]).to.include({
      cid: 'cid-of-bobs-new-phone',
      requestId: job.requestId,
      payload: job.payload,
      ttlMs: 3_599_000,
      kind: 'image',
    });
    expect(jobs.rows[0]).to.include({ status: 'sent', attempts: 1, lastError: null, leaseToken: null });
    expect(jobs.rows[0].sentAt).to.deep.equal(clock);
  });

  it('caps the ttl at 3 days', async () => {
    await enqueue(2, new Date(clock.getTime() + 7 * 24 * 3600_000));
    await dispatcher().dispatchOnce();
    expect(provider.sent[0].ttlMs).to.equal(3 * 24 * 3600_000);
  });

  it('skips, with the reason, a push for a user without a cid or for an image already expired', async () => {
    cids.set(3, null);
    await enqueue(3);
    await enqueue(2, new Date(clock.getTime() + 1000));
    later(1000);
    await dispatcher().dispatchOnce();
    expect(provider.sent).to.have.length(0);
    expect(jobs.rows.map((r) => [r.status, r.lastError])).to.deep.equal([
      ['skipped', 'the receiver has no push client id (cid)'],
      ['skipped', 'expired before it could be pushed'],
    ]);
  });

  it('retries with exponential backoff and jitter, with the same request_id, then fails with the reason', async () => {
    await enqueue();
    provider.next = () => ({ outcome: 'retry', reason: 'HTTP 503' });
    const d = dispatcher({}, () => 0.5);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      await d.dispatchOnce();
      const row = jobs.rows[0];
      if (row.status !== 'pending') break;
      waits.push(row.nextAttemptAt.getTime() - clock.getTime());
      expect(await d.dispatchOnce()).to.deep.equal({ claimed: 0 }); // not due yet
      clock = row.nextAttemptAt;
    }
    // base 1 s doubling, capped at 5 s, jitter 0.5 → three quarters of each step
    expect(waits).to.deep.equal([750, 1500, 3000]);
    expect(new Set(provider.sent.map((m) => m.requestId)).size).to.equal(1);
    expect(provider.sent).to.have.length(4);
    expect(jobs.rows[0]).to.include({ status: 'failed', attempts: 4, lastError: 'gave up after 4 attempts: HTTP 503' });
  });

  it('keeps the jitter within half and all of the capped step', () => {
    const low = dispatcher({}, () => 0);
    const high = dispatcher({}, () => 0.999999);
    expect([1, 2, 3, 4, 10].map((a) => low.backoff(a))).to.deep.equal([500, 1000, 2000, 2500, 2500]);
    expect([1, 2, 3, 4, 10].map((a) => high.backoff(a))).to.deep.equal([1000, 2000, 4000, 5000, 5000]);
  });

  it('waits at least as long as the provider asked', async () => {
    await enqueue();
    provider.next = () => ({ outcome: 'retry', reason: 'GeTui 10005', retryAfterMs: 60_000 });
    await dispatcher().dispatchOnce();
    expect(jobs.rows[0].nextAttemptAt.getTime() - clock.getTime()).to.equal(60_000);
  });

  it('fails a job at once when the provider gives up, and keeps it with the reason', async () => {
    await enqueue();
    provider.next = () => ({ outcome: 'give-up', reason: 'GeTui 20001 target user is invalid' });
    await dispatcher().dispatchOnce();
    expect(jobs.rows[0]).to.include({ status: 'failed', attempts: 1, lastError: 'GeTui 20001 target user is invalid' });
  });

  it('treats a provider that throws as a retry', async () => {
    await enqueue();
    provider.next = () => {
      throw new Error('boom');
    };
    await dispatcher().dispatchOnce();
    expect(jobs.rows[0]).to.include({ status: 'pending', lastError: 'push provider failed: boom' });
  });

  it('takes over a job whose dispatcher died mid-send once its lease runs out; the dead claim cannot overwrite it', async () => {
    await enqueue();
    const [dead] = await jobs.claimDue(clock, 10, 60_000);
    const d = dispatcher();
    expect(await d.dispatchOnce()).to.deep.equal({ claimed: 0 });
    later(60_000);
    await d.dispatchOnce();
    expect(provider.sent.map((m) => m.requestId)).to.deep.equal([dead.job.requestId]);
    expect(jobs.rows[0]).to.include({ status: 'sent', attempts: 2 });
    expect(await jobs.record(dead.job, { status: 'pending', nextAttemptAt: clock, error: 'late' }, clock)).to.equal(false);
    expect(jobs.rows[0].status).to.equal('sent');
  });

  it('on stop, finishes the job in flight and leaves the others pending', async () => {
    for (let i = 0; i < 3; i++) await enqueue();
    let release!: (r: PushResult) => void;
    provider.next = () => new Promise<PushResult>((resolve) => (release = resolve));
    const d = dispatcher({ batchSize: 1 });
    d.start();
    await eventually(() => expect(provider.sent).to.have.length(1));
    let stopped = false;
    const stopping = d.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(stopped).to.equal(false);
    release({ outcome: 'sent' });
    await stopping;
    expect(jobs.rows.map((r) => r.status)).to.deep.equal(['sent', 'pending', 'pending']);
    expect(provider.sent).to.have.length(1);
  });

  it('sends at once when woken, without waiting for the poll', async () => {
    const d = dispatcher({ pollMs: 3_600_000 });
    d.start();
    try {
      await new Promise((r) => setTimeout(r, 20));
      await enqueue();
      d.wake();
      await eventually(() => expect(jobs.rows[0].status).to.equal('sent'));
    } finally {
      await d.stop();
    }
  });
});

describe('image push payload and the log provider (unit)', () => {
  it('has exactly the five keys of the image push (docs/api.md, "Pushes")', () => {
    const sendTime = new Date('2026-03-01T08:00:00.123Z');
    const text = imagePushPayload({
      senderRegion: '86',
      senderPhoneHash: 'ab'.repeat(32),
      messageId: 42,
      messageKey: 'cd'.repeat(32),
      sendTime,
    });
    expect(JSON.parse(text)).to.deep.equal({
      sender_region: '86',
      sender_phone: 'ab'.repeat(32),
      message_id: 42,
      message_key: 'cd'.repeat(32),
      send_time: '2026-03-01T08:00:00.123Z',
    });
  });

  it('logs one structured line per push, with neither the phone number nor its hash', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    const provider = new LogPushProvider(pino({ level: 'info' }, sink));
    const phoneHash = 'ef'.repeat(32);
    const payload = imagePushPayload({
      senderRegion: '86',
      senderPhoneHash: phoneHash,
      messageId: 1,
      messageKey: '01'.repeat(32),
      sendTime: new Date(),
    });
    const r = await provider.send({
      requestId: 'r'.repeat(32),
      cid: 'cid-1234567890',
      payload,
      ttlMs: 1000,
      alert: { title: 't', body: 'b' },
      kind: 'image',
      jobId: 9,
      receiverUid: 2,
    });
    expect(r.outcome).to.equal('sent');
    expect(lines).to.have.length(1);
    const line = JSON.parse(lines[0]);
    expect(line.push).to.include({ kind: 'image', jobId: 9, receiverUid: 2, requestId: 'r'.repeat(32) });
    expect(lines[0]).not.to.contain(phoneHash);
    expect(lines[0]).not.to.contain('13800');
  });
});
