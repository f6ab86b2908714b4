import { expect } from 'chai';
import pino from 'pino';
import { OutboxPollEventFeed } from '../../src/adapters/outbox-poll.event-feed';
import { LocalSubscriptionSlots } from '../../src/adapters/subscription-slots';
import { PushJob } from '../../src/entities/push-job.entity';
import type { User } from '../../src/entities/user.entity';
import type { OutboxRow } from '../../src/repositories/push-job.repository';
import { friendRequestPush, imageDestroyedPush, imagePushPayload, PUSH_KIND_IMAGE, screenshotPush } from '../../src/services/push.payloads';
import { EVENT_KIND_BY_PUSH, EventKind, eventFromOutbox, RealtimeEvent } from '../../src/services/realtime.events';
import { CloseReason, RealtimeService } from '../../src/services/realtime.service';
import { FakePushJobRepository } from '../support/fakes';

const log = pino({ level: 'silent' });
const row = (id: number, receiverUid: number, payload: Record<string, unknown> | string, kind = 'event'): OutboxRow => ({
  id,
  receiverUid,
  kind,
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  createdAt: new Date('2026-01-02T03:04:05.000Z'),
});

describe('realtime events: one per push kind, from the outbox row', () => {
  it('maps every push the server sends to its kind, account_moved included', () => {
    const sendTime = new Date('2026-01-01T00:00:00.000Z');
    const image = row(
      1,
      7,
      imagePushPayload({ senderRegion: '86', senderPhoneHash: 'a'.repeat(64), messageId: 42, messageKey: 'b'.repeat(64), sendTime }),
      PUSH_KIND_IMAGE,
    );
    expect(eventFromOutbox(image)).to.deep.equal({
      id: 1,
      receiverUid: 7,
      kind: EventKind.IMAGE_RECEIVED,
      at: sendTime,
      messageId: 42,
      messageKey: 'b'.repeat(64),
      reason: null,
      receipt: null,
      userUid: null,
    });
    const destroyedAt = new Date('2026-01-01T01:00:00.000Z');
    const destroyed = eventFromOutbox(
      row(2, 7, imageDestroyedPush({ messageId: 42, reason: 'expired', destroyedAt, receipt: 'sig' }), 'image_destroyed'),
    )!;
    expect(destroyed).to.include({ kind: EventKind.IMAGE_DESTROYED, messageId: 42, reason: 'expired', receipt: 'sig' });
    expect(destroyed.at).to.deep.equal(destroyedAt);
    expect(eventFromOutbox(row(3, 7, screenshotPush(42)))).to.include({ kind: EventKind.SCREENSHOT, messageId: 42 });
    const friend = eventFromOutbox(row(4, 7, friendRequestPush({ uid: 9, nickname: 'n' })))!;
    expect(friend).to.include({ kind: EventKind.FRIEND_REQUEST, userUid: 9 });
    expect(friend.at).to.deep.equal(new Date('2026-01-02T03:04:05.000Z'));
    const moved = eventFromOutbox(row(5, 7, { event: 'account_moved', moved_at: '2026-02-01T00:00:00.000Z' }))!;
    expect(moved.kind).to.equal(EventKind.ACCOUNT_MOVED);
    expect(moved.at.toISOString()).to.equal('2026-02-01T00:00:00.000Z');
    expect(new Set(Object.values(EVENT_KIND_BY_PUSH))).to.deep.equal(new Set(Object.values(EventKind)));
  });

  it('makes no event of an unknown push or an unreadable payload', () => {
    expect(eventFromOutbox(row(1, 7, { event: 'something_new' }))).to.equal(null);
    expect(eventFromOutbox(row(1, 7, { event: 'toString' }))).to.equal(null);
    expect(eventFromOutbox(row(1, 7, '{not json'))).to.equal(null);
    expect(eventFromOutbox(row(1, 7, '[1]'))).to.equal(null);
  });
});

describe('the outbox poll feed (no Redis)', () => {
  const setUp = () => {
    const jobs = new FakePushJobRepository(() => null);
    let now = 1_000_000;
    const feed = new OutboxPollEventFeed(jobs, 60_000, log, () => now);
    const got: number[] = [];
    feed.onRows((rows) => got.push(...rows.map((r) => r.id)));
    const insertLate = (id: number, receiverUid: number) =>
      jobs.rows.push(Object.assign(new PushJob(), { ...row(id, receiverUid, screenshotPush(1)), status: 'pending' }));
    return { jobs, feed, got, insertLate, tick: (ms: number) => (now += ms) };
  };

  it('hands over rows committed here at once, and rows of other instances at the next poll, each once', async () => {
    const { jobs, feed, got } = setUp();
    await feed.watch(7);
    await jobs.enqueue([{ receiverUid: 7, kind: 'screenshot', payload: JSON.stringify(screenshotPush(1)), expiresAt: null }], new Date());
    expect(got).to.deep.equal([1]);
    jobs.rows.push(Object.assign(new PushJob(), { ...row(2, 7, screenshotPush(2)) }));
    jobs.rows.push(Object.assign(new PushJob(), { ...row(3, 8, screenshotPush(3)) }));
    await feed.poll();
    await feed.poll();
    expect(got).to.deep.equal([1, 2]);
    await feed.stop();
  });

  it('does not miss a row whose transaction committed after a later one (a lower id seen late)', async () => {
    const { feed, got, insertLate, tick } = setUp();
    await feed.watch(7);
    insertLate(2, 7);
    await feed.poll();
    expect(got).to.deep.equal([2]);
    // Id 1 was taken before id 2 but commits only now, a few seconds later.
    tick(3000);
    insertLate(1, 7);
    await feed.poll();
    expect(got).to.deep.equal([2, 1]);
    await feed.stop();
  });

  it('starts each user at the rows committed after the watch, and forgets users no longer watched', async () => {
    const { feed, got, insertLate } = setUp();
    insertLate(1, 7);
    await feed.watch(7);
    await feed.poll();
    expect(got).to.deep.equal([]);
    feed.unwatch(7);
    insertLate(2, 7);
    await feed.poll();
    expect(got).to.deep.equal([]);
    await feed.stop();
  });
});

describe('RealtimeService with fakes', () => {
  const alice = { uid: 1, nickname: 'alice' } as User;
  const setUp = (options = { subscriptionsPerUser: 2, authCheckMs: 1000 }) => {
    const jobs = new FakePushJobRepository(() => null);
    const feed = new OutboxPollEventFeed(jobs, 60_000, log);
    const tokens = new Map<string, User>([['Bearer good', alice]]);
    let now = 0;
    const service = new RealtimeService(
      { auth: { authenticate: async (h) => tokens.get(h ?? '') ?? null }, feed, slots: new LocalSubscriptionSlots(), log, now: () => now },
      options,
    );
    const closes: CloseReason[] = [];
    const push = (payload: Record<string, unknown>) =>
      jobs.enqueue([{ receiverUid: 1, kind: 'event', payload: JSON.stringify(payload), expiresAt: null }], new Date());
    return { service, tokens, closes, push, close: (why: CloseReason) => void closes.push(why), tick: (ms: number) => (now += ms) };
  };

  it('refuses a wrong token, and a subscription beyond the limit until one completes', async () => {
    const { service, close } = setUp();
    expect(await service.connect('Bearer bad', close)).to.equal(null);
    expect(await service.connect(undefined, close)).to.equal(null);
    const session = (await service.connect('Bearer good', close))!;
    const [a] = [await session.events(), await session.events()];
    let refused: unknown;
    await session.events().catch((e) => (refused = e));
    expect((refused as { extensions: { code: string } }).extensions.code).to.equal('RATE_LIMITED');
    await a.return!();
    expect(service.subscriptionCount(1)).to.equal(1);
    await session.events();
    expect(service.subscriptionCount(1)).to.equal(2);
    service.disconnect(session);
    expect(service.subscriptionCount(1)).to.equal(0);
  });

  it('delivers in order to every subscription of the user, and ends them when the connection closes', async () => {
    const { service, close, push } = setUp();
    const session = (await service.connect('Bearer good', close))!;
    const [a, b] = [await session.events(), await session.events()];
    await push(screenshotPush(1));
    await push(screenshotPush(2));
    for (const s of [a, b]) {
      expect(((await s.next()).value as RealtimeEvent).messageId).to.equal(1);
      expect(((await s.next()).value as RealtimeEvent).messageId).to.equal(2);
    }
    const pending = a.next();
    service.disconnect(session);
    expect((await pending).done).to.equal(true);
  });

  it('checks the token again once ACCOUNT_MOVED has been sent, and closes with 4403 when it stopped working', async () => {
    const { service, tokens, closes, close, push } = setUp();
    const session = (await service.connect('Bearer good', close))!;
    const stream = await session.events();
    tokens.delete('Bearer good');
    await push({ event: 'account_moved', moved_at: new Date().toISOString() });
    expect(((await stream.next()).value as RealtimeEvent).kind).to.equal(EventKind.ACCOUNT_MOVED);
    expect(closes).to.deep.equal([]);
    // Asking for the next event means the last one was sent: the check runs now.
    const after = await stream.next();
    expect(after.done).to.equal(true);
    expect(closes.map((c) => c.code)).to.deep.equal([4403]);
  });

  it('stops: every connection is closed with 1012', async () => {
    const { service, closes, close } = setUp();
    await service.connect('Bearer good', close);
    await service.connect('Bearer good', close);
    await service.stop();
    expect(closes.map((c) => c.code)).to.deep.equal([1012, 1012]);
    expect(service.connectionCount).to.equal(0);
  });
});
