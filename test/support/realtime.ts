import { Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { RunningServer } from '../../src/server';
import { eventually } from './wait';

/** What the app asks of each event (every field of Event, the message's and the user's basics). */
export const EVENTS_SUBSCRIPTION = `subscription { events {
  kind at messageId reason receipt
  message { id messageKey receiverUid sendTime exist filetype size downloadUrl sender { uid nickname } }
  user { uid nickname }
} }`;

export interface EventView {
  kind: string;
  at: string;
  messageId: number | null;
  reason: string | null;
  receipt: string | null;
  message: { id: number; messageKey: string; receiverUid: number; downloadUrl: string | null; sender: { uid: number } } | null;
  user: { uid: number; nickname: string } | null;
}

export function wsUrl(baseUrl: string): string {
  return `${baseUrl.replace(/^http/, 'ws')}/graphql`;
}

/** Generous: the two shared cores may be busy; each wait returns as soon as its condition holds. */
const WAIT_MS = 15_000;

/**
 * One app's subscription through graphql-ws's own client: every event it hears, the errors, and
 * each close of its socket. `retry` lets the client reconnect (and resubscribe) as apps do.
 */
export class EventSubscriber {
  readonly events: EventView[] = [];
  readonly errors: unknown[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  completed = false;
  readonly client: Client;
  private dispose: () => void = () => undefined;

  constructor(baseUrl: string | (() => string), token: string | null, options: { retry?: boolean; query?: string } = {}) {
    this.client = createClient({
      url: () => wsUrl(typeof baseUrl === 'string' ? baseUrl : baseUrl()),
      webSocketImpl: WebSocket,
      connectionParams: token === null ? {} : { authorization: `Bearer ${token}` },
      retryAttempts: options.retry ? 20 : 0,
      retryWait: async () => new Promise((r) => setTimeout(r, 100)),
      shouldRetry: () => options.retry === true,
      on: {
        closed: (e) =>
          void this.closes.push({ code: (e as { code: number }).code, reason: String((e as { reason?: string }).reason ?? '') }),
      },
    });
    this.dispose = this.client.subscribe<{ events: EventView }>(
      { query: options.query ?? EVENTS_SUBSCRIPTION },
      {
        next: (r) => {
          if (r.data) this.events.push(r.data.events);
          if (r.errors) this.errors.push(...r.errors);
        },
        // An `error` message brings a list of GraphQL errors; a closed socket, its close event.
        error: (e) => void (Array.isArray(e) ? this.errors.push(...e) : this.errors.push(e)),
        complete: () => {
          this.completed = true;
        },
      },
    );
  }

  /** Waits until `n` events have arrived, then answers them all. */
  async waitForEvents(n: number): Promise<EventView[]> {
    await eventually(() => {
      if (this.events.length < n) throw new Error(`${this.events.length} of ${n} events arrived; errors: ${JSON.stringify(this.errors)}`);
    }, WAIT_MS);
    return this.events;
  }

  async waitForClose(): Promise<{ code: number; reason: string }> {
    await eventually(() => {
      if (!this.closes.length) throw new Error('the socket did not close');
    }, WAIT_MS);
    return this.closes[0];
  }

  /** The first GraphQL error (of an `error` message, or of a result) or close event. */
  async waitForError(): Promise<any> {
    await eventually(() => {
      if (!this.errors.length) throw new Error('no error arrived');
    }, WAIT_MS);
    return this.errors[0];
  }

  async stop(): Promise<void> {
    this.dispose();
    await this.client.dispose();
  }
}

/** Waits until `server` holds `n` open subscriptions of `uid` (the subscription is live: events will reach it). */
export async function subscriptionsLive(server: RunningServer | (() => RunningServer), uid: number, n = 1): Promise<void> {
  await eventually(() => {
    const s = typeof server === 'function' ? server() : server;
    const count = s.container.realtime.subscriptionCount(uid);
    if (count !== n) throw new Error(`${count} of ${n} subscriptions of user ${uid} are live`);
  }, WAIT_MS);
}

/** A bare WebSocket speaking graphql-transport-ws by hand, for what a well-behaved client never sends. */
export class RawSocket {
  readonly messages: Record<string, unknown>[] = [];
  pings = 0;
  closed: { code: number; reason: string } | null = null;
  readonly ws: WebSocket;
  readonly opened: Promise<void>;

  constructor(baseUrl: string) {
    this.ws = new WebSocket(wsUrl(baseUrl), 'graphql-transport-ws');
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data) => {
      try {
        this.messages.push(JSON.parse(String(data)));
      } catch {
        this.messages.push({ unreadable: String(data) });
      }
    });
    this.ws.on('ping', () => this.pings++);
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
    });
    this.ws.on('error', () => undefined);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  async init(token: string | null): Promise<void> {
    await this.opened;
    this.send({ type: 'connection_init', payload: token === null ? {} : { authorization: `Bearer ${token}` } });
  }

  async waitFor(check: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await eventually(() => {
      found = this.messages.find(check);
      if (!found) throw new Error(`no such message among ${JSON.stringify(this.messages)}`);
    }, WAIT_MS);
    return found!;
  }

  async waitForClose(): Promise<{ code: number; reason: string }> {
    await eventually(() => {
      if (!this.closed) throw new Error('the socket did not close');
    }, WAIT_MS);
    return this.closed!;
  }

  close(): void {
    this.ws.terminate();
  }
}
