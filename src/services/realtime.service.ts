import { randomBytes } from 'node:crypto';
import type { User } from '../entities/user.entity';
import { AppError, UnauthenticatedError } from '../errors';
import type { Logger } from '../logger';
import type { OutboxRow } from '../repositories/push-job.repository';
import type { EventFeed, SubscriptionSlots } from './event-feed';
import { EventKind, eventFromOutbox, RealtimeEvent } from './realtime.events';
import type { Metrics } from './metrics';

/** Recognises a token; the same check every HTTP request gets. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<User | null>;
}

export interface RealtimeOptions {
  subscriptionsPerUser: number;
  /** How often each connection's token is checked again. */
  authCheckMs: number;
  /** Counts open subscriptions (glimpse_subscriptions_open). */
  metrics?: Pick<Metrics, 'subscriptionOpened' | 'subscriptionClosed'>;
}

/** Why the server ends a connection, as WebSocket close codes. */
export const CLOSE = {
  /** The token is missing or wrong, or stopped working (signed out, moved, deleted). */
  forbidden: { code: 4403, reason: 'Forbidden' },
  /** The token could not be checked (the database is unreachable): reconnect later. */
  tryAgainLater: { code: 1013, reason: 'Try again later' },
  /** This instance is stopping: reconnect (the load balancer picks another). */
  restart: { code: 1012, reason: 'Service restart' },
  /** The client read its events too slowly. */
  tooSlow: { code: 1008, reason: 'Too many unread events' },
} as const;
export type CloseReason = (typeof CLOSE)[keyof typeof CLOSE];

/** Events waiting for a subscriber that reads them; beyond this it is disconnected. */
const QUEUE_LIMIT = 1000;
/** Token re-checks running at once. */
const CHECKS_AT_ONCE = 8;
const TICK_MS = 1000;

export class TooManySubscriptionsError extends AppError {
  constructor(limit: number) {
    super('RATE_LIMITED', `At most ${limit} open subscriptions per user; complete one first`, { limit, reason: 'SUBSCRIPTIONS_PER_USER' });
  }
}

/** One authenticated WebSocket connection. */
export class RealtimeSession {
  ended = false;
  nextCheckAt: number;
  readonly streams = new Set<EventStream>();

  constructor(
    public viewer: User,
    readonly authorization: string,
    private readonly service: RealtimeService,
    readonly close: (why: CloseReason) => void,
    now: number,
    checkMs: number,
  ) {
    this.nextCheckAt = now + checkMs;
  }

  /** A stream of the viewer's events from now on, until the subscription or the connection ends. */
  events(): Promise<AsyncIterableIterator<RealtimeEvent>> {
    return this.service.subscribe(this);
  }
}

/** One subscription's events, queued until its consumer reads them. */
class EventStream implements AsyncIterableIterator<RealtimeEvent> {
  private readonly queue: RealtimeEvent[] = [];
  private waiting: ((r: IteratorResult<RealtimeEvent>) => void) | null = null;
  private done = false;
  private handedMove = false;

  constructor(
    readonly session: RealtimeSession,
    private readonly onEnd: (stream: EventStream) => void,
    /** Called once an ACCOUNT_MOVED event has been sent (its consumer asks for the next one). */
    private readonly onMoveSent: (session: RealtimeSession) => void,
  ) {}

  push(event: RealtimeEvent): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > QUEUE_LIMIT) this.session.close(CLOSE.tooSlow);
  }

  next(): Promise<IteratorResult<RealtimeEvent>> {
    // The transport asks for the next event only once it has sent the last one.
    if (this.handedMove) {
      this.handedMove = false;
      this.onMoveSent(this.session);
    }
    const value = this.queue.shift();
    if (value) return Promise.resolve(this.hand(value));
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = (r) => resolve(r.done ? r : this.hand(r.value));
    });
  }

  private hand(value: RealtimeEvent): IteratorResult<RealtimeEvent> {
    if (value.kind === EventKind.ACCOUNT_MOVED) this.handedMove = true;
    return { value, done: false };
  }

  return(): Promise<IteratorResult<RealtimeEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
    this.onEnd(this);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<RealtimeEvent> {
    return this;
  }
}

/** What RealtimeService works with. */
export interface RealtimeServiceDeps {
  auth: Authenticator;
  feed: EventFeed;
  slots: SubscriptionSlots;
  log: Logger;
  now?: () => number;
}

/**
 * Subscriptions to the viewer's events while the app is open. Events are the outbox's push jobs
 * (the same facts as the pushes), brought by the feed from whichever instance committed them.
 * Connections are authenticated like requests and checked again every `authCheckMs` and at
 * once when their account moves; a token that stopped working ends its connection.
 */
export class RealtimeService {
  private readonly sessions = new Set<RealtimeSession>();
  private readonly streams = new Map<number, Set<EventStream>>();
  private readonly instance = randomBytes(6).toString('hex');
  private counter = 0;
  private timer: NodeJS.Timeout | null = null;
  private checking = 0;
  private stopped: Promise<void> | null = null;

  private readonly auth: Authenticator;
  private readonly feed: EventFeed;
  private readonly slots: SubscriptionSlots;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    deps: RealtimeServiceDeps,
    private readonly options: RealtimeOptions,
  ) {
    this.auth = deps.auth;
    this.feed = deps.feed;
    this.slots = deps.slots;
    this.log = deps.log;
    this.now = deps.now ?? Date.now;
    this.feed.onRows((rows) => this.deliver(rows));
  }

  get description(): string {
    return `${this.feed.description}; subscription limit ${this.slots.description}`;
  }

  start(): void {
    this.timer ??= setInterval(() => this.checkDue(), TICK_MS).unref();
  }

  /** The session of a token that works, or null. `close` ends the connection (the transport's part). */
  async connect(authorization: unknown, close: (why: CloseReason) => void): Promise<RealtimeSession | null> {
    if (typeof authorization !== 'string') return null;
    const viewer = await this.auth.authenticate(authorization);
    if (!viewer) return null;
    const session = new RealtimeSession(viewer, authorization, this, close, this.now(), this.options.authCheckMs);
    this.sessions.add(session);
    return session;
  }

  /** The connection closed: its subscriptions end. */
  disconnect(session: RealtimeSession): void {
    session.ended = true;
    this.sessions.delete(session);
    for (const s of [...session.streams]) s.end();
  }

  async subscribe(session: RealtimeSession): Promise<AsyncIterableIterator<RealtimeEvent>> {
    if (session.ended) throw new UnauthenticatedError();
    const uid = session.viewer.uid;
    const id = `${this.instance}:${++this.counter}`;
    if (!(await this.slots.acquire(uid, id, this.options.subscriptionsPerUser)))
      throw new TooManySubscriptionsError(this.options.subscriptionsPerUser);
    try {
      await this.feed.watch(uid);
    } catch (e) {
      await this.slots.release(uid, id).catch(() => undefined);
      throw e;
    }
    const stream = new EventStream(
      session,
      (s) => {
        session.streams.delete(s);
        const set = this.streams.get(uid);
        set?.delete(s);
        if (set && !set.size) this.streams.delete(uid);
        this.feed.unwatch(uid);
        this.options.metrics?.subscriptionClosed();
        this.slots.release(uid, id).catch((err) => this.log.warn({ err, uid }, 'realtime: could not release a subscription slot'));
      },
      (s) => void this.check(s),
    );
    session.streams.add(stream);
    this.options.metrics?.subscriptionOpened();
    const set = this.streams.get(uid) ?? new Set<EventStream>();
    set.add(stream);
    this.streams.set(uid, set);
    // The connection may have closed while the slot was taken.
    if (session.ended) stream.end();
    return stream;
  }

  /** Open subscriptions of `uid` on this instance. */
  subscriptionCount(uid: number): number {
    return this.streams.get(uid)?.size ?? 0;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Ends every connection (the instance is stopping) and lets go of the feed and the slots. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      for (const session of [...this.sessions]) this.end(session, CLOSE.restart);
      await this.slots.stop();
      await this.feed.stop();
    })();
    return this.stopped;
  }

  private deliver(rows: OutboxRow[]): void {
    for (const row of rows) {
      const streams = this.streams.get(row.receiverUid);
      const event = streams?.size ? eventFromOutbox(row) : null;
      if (!event) continue;
      // An ACCOUNT_MOVED event has its connection's token checked once it is sent (EventStream).
      for (const s of streams!) s.push(event);
    }
  }

  /** Checks the tokens that are due, a few at a time, from a timer that ticks every second. */
  private checkDue(): void {
    const now = this.now();
    for (const session of this.sessions) {
      if (this.checking >= CHECKS_AT_ONCE) return;
      if (session.nextCheckAt <= now) void this.check(session);
    }
  }

  private async check(session: RealtimeSession): Promise<void> {
    if (session.ended) return;
    session.nextCheckAt = this.now() + this.options.authCheckMs;
    this.checking++;
    try {
      const user = await this.auth.authenticate(session.authorization);
      if (session.ended) return;
      if (!user || user.uid !== session.viewer.uid) this.end(session, CLOSE.forbidden);
      else session.viewer = user;
    } catch (err) {
      this.log.warn({ err, uid: session.viewer.uid }, 'realtime: could not check a token; closing its connection');
      this.end(session, CLOSE.tryAgainLater);
    } finally {
      this.checking--;
    }
  }

  private end(session: RealtimeSession, why: CloseReason): void {
    session.close(why);
    this.disconnect(session);
  }
}
