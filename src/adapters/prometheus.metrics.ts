import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RATE_LIMIT_NAMES, RateLimitName } from '../config';
import type { Logger } from '../logger';
import type { ImageDestroyReason, Metrics, OperationType, PushJobOutcomeLabel } from '../services/metrics';

/** The push outbox as every instance sees it (the shared table), read when Prometheus scrapes. */
export interface OutboxReading {
  /** Jobs not delivered yet: waiting, or being sent right now. */
  pending: number;
  /** How long the job that has been due the longest has waited past its due time (0: none due). */
  oldestDueSeconds: number;
}

export interface PrometheusMetricsOptions {
  /** Reads the outbox; called at most once per `outboxCacheMs` however often it is scraped. */
  readOutbox?: () => Promise<OutboxReading>;
  outboxCacheMs?: number;
  /** Whether every part a request needs answers, as GET /readyz tells it. */
  readReadiness?: () => Promise<boolean>;
  log: Logger;
}

const DESTROY_REASONS: ImageDestroyReason[] = ['viewed', 'expired', 'ended', 'missing'];
const PUSH_OUTCOMES: PushJobOutcomeLabel[] = ['sent', 'retry', 'failed', 'skipped'];
/** Uploads of large images from slow phones take a while: the buckets reach a minute. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** How often the event-loop lag is sampled. */
export const EVENT_LOOP_SAMPLE_MS = 100;
/** A push kind is a name from the code; anything else would be a bug, counted as `other`. */
const KIND = /^[a-z_]{1,32}$/;

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** GraphQL requests of one label set not yet handed to prom-client: their durations. */
interface RequestBatch {
  count: Inc;
  duration: Observe;
  seconds: number[];
}

/** Requests held at most before they are handed over without waiting for a scrape (a few KiB). */
const MAX_BATCHED_REQUESTS = 4096;

/**
 * The Metrics contract on prom-client, in a registry of its own (several servers may share a
 * process in tests). Label children are looked up once per label set and kept. Every GraphQL
 * request is counted and timed, so it only appends its duration to its label set's batch; a
 * scrape, or a full batch, hands the batch to prom-client in one loop. prom-client's inc and
 * observe, called in the request path, were a visible share of a small request's CPU profile
 * (docs/performance.md, "Metrics").
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'type' | 'code'>;
  private readonly durations: Histogram<'operation' | 'type'>;
  private readonly sent: Counter;
  private readonly bytesReceived: Counter;
  private readonly bytesServed: Counter;
  private readonly destroyed = new Map<ImageDestroyReason, Inc>();
  private readonly pushJobs: Counter<'kind' | 'outcome'>;
  private readonly limited = new Map<RateLimitName, Inc>();
  private readonly subscriptions: Gauge;
  private readonly requestBatches = new Map<string, RequestBatch>();
  private batchedRequests = 0;
  private readonly durationChildren = new Map<string, Observe>();
  private readonly pushChildren = new Map<string, Inc>();
  private outboxRead: Promise<OutboxReading> | null = null;
  private outboxReadAt = 0;

  constructor(private readonly options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    // The event-loop lag is sampled by a timer. prom-client's default, every 10 ms, woke an idle
    // process a hundred times a second, a visible share of its idle CPU (docs/performance.md,
    // "Metrics"); every 100 ms still sees any lag the alert (0.5 s) is about.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    this.requests = new Counter({
      name: 'glimpse_graphql_requests_total',
      help: 'GraphQL requests answered, by operation name, operation type and first error code (OK: none)',
      labelNames: ['operation', 'type', 'code'],
      registers,
      collect: () => this.handOverRequests(),
    });
    this.durations = new Histogram({
      name: 'glimpse_graphql_request_duration_seconds',
      help: 'Time from a GraphQL request reaching Apollo to its answer (an upload is read meanwhile)',
      labelNames: ['operation', 'type'],
      buckets: DURATION_BUCKETS,
      registers,
      collect: () => this.handOverRequests(),
    });
    this.sent = new Counter({ name: 'glimpse_images_sent_total', help: 'Sends accepted (a group send counts once)', registers });
    this.bytesReceived = new Counter({ name: 'glimpse_image_bytes_received_total', help: 'Image bytes of accepted sends', registers });
    this.bytesServed = new Counter({
      name: 'glimpse_image_bytes_served_total',
      help: 'Image bytes of download responses delivered in full',
      registers,
    });
    const destroyed = new Counter({
      name: 'glimpse_images_destroyed_total',
      help: 'Image blobs deleted, by reason',
      labelNames: ['reason'],
      registers,
    });
    // Every known series from zero: rate() and alerts see the first event, not only the second.
    for (const reason of DESTROY_REASONS) this.destroyed.set(reason, zeroed(destroyed.labels(reason)));
    this.pushJobs = new Counter({
      name: 'glimpse_push_jobs_total',
      help: 'Push attempts, by job kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    for (const outcome of PUSH_OUTCOMES) zeroed(this.pushChild('image', outcome));
    const limited = new Counter({
      name: 'glimpse_rate_limited_total',
      help: 'Actions refused by a rate limit, by rule',
      labelNames: ['rule'],
      registers,
    });
    for (const rule of RATE_LIMIT_NAMES) this.limited.set(rule, zeroed(limited.labels(rule)));
    this.subscriptions = new Gauge({ name: 'glimpse_subscriptions_open', help: 'GraphQL subscriptions open on this instance', registers });

    // Both read from the shared table, so every instance reports the same values: aggregate with max().
    const ready = this.options.readReadiness;
    if (ready) {
      new Gauge({
        name: 'glimpse_ready',
        help: 'Whether every part a request needs (database, blob store) answers: 1, or 0 as GET /readyz answers 503',
        registers,
        async collect() {
          this.set((await ready().catch(() => false)) ? 1 : 0);
        },
      });
    }
    const outbox = () => this.outbox();
    new Gauge({
      name: 'glimpse_push_outbox_pending',
      help: 'Push jobs not delivered yet (the shared outbox: the same on every instance)',
      registers,
      async collect() {
        this.set((await outbox())?.pending ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'glimpse_push_outbox_oldest_pending_seconds',
      help: 'How long the push that has been due the longest has waited past its due time (the shared outbox)',
      registers,
      async collect() {
        this.set((await outbox())?.oldestDueSeconds ?? Number.NaN);
      },
    });
  }

  /** The text Prometheus scrapes, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  graphqlRequest(operation: string, type: OperationType, code: string, seconds: number): void {
    const key = `${operation} ${type} ${code}`;
    let batch = this.requestBatches.get(key);
    if (!batch) {
      const durationKey = `${operation} ${type}`;
      let duration = this.durationChildren.get(durationKey);
      if (!duration) this.durationChildren.set(durationKey, (duration = this.durations.labels(operation, type)));
      this.requestBatches.set(key, (batch = { count: this.requests.labels(operation, type, code), duration, seconds: [] }));
    }
    batch.seconds.push(seconds);
    if (++this.batchedRequests >= MAX_BATCHED_REQUESTS) this.handOverRequests();
  }

  imageSent(bytes: number): void {
    this.sent.inc();
    this.bytesReceived.inc(bytes);
  }

  imageBytesServed(bytes: number): void {
    if (bytes > 0) this.bytesServed.inc(bytes);
  }

  imageDestroyed(reason: ImageDestroyReason): void {
    this.destroyed.get(reason)?.inc();
  }

  pushJob(kind: string, outcome: PushJobOutcomeLabel): void {
    this.pushChild(KIND.test(kind) ? kind : 'other', outcome).inc();
  }

  rateLimited(rule: RateLimitName): void {
    this.limited.get(rule)?.inc();
  }

  subscriptionOpened(): void {
    this.subscriptions.inc();
  }

  subscriptionClosed(): void {
    this.subscriptions.dec();
  }

  setSubscriptionsOpen(count: number): void {
    this.subscriptions.set(count);
  }

  /** Counts and observes every batched request in prom-client. */
  private handOverRequests(): void {
    if (this.batchedRequests === 0) return;
    for (const batch of this.requestBatches.values()) {
      const { seconds } = batch;
      if (seconds.length === 0) continue;
      batch.count.inc(seconds.length);
      for (let i = 0; i < seconds.length; i++) batch.duration.observe(seconds[i]);
      seconds.length = 0;
    }
    this.batchedRequests = 0;
  }

  private pushChild(kind: string, outcome: PushJobOutcomeLabel): Inc {
    const key = `${kind} ${outcome}`;
    let child = this.pushChildren.get(key);
    if (!child) this.pushChildren.set(key, (child = this.pushJobs.labels(kind, outcome)));
    return child;
  }

  /** One reading serves every scrape (and both gauges) for a moment; null when it failed. */
  private async outbox(): Promise<OutboxReading | null> {
    const read = this.options.readOutbox;
    if (!read) return { pending: 0, oldestDueSeconds: 0 };
    const now = Date.now();
    if (!this.outboxRead || now - this.outboxReadAt >= (this.options.outboxCacheMs ?? 1500)) {
      this.outboxReadAt = now;
      this.outboxRead = read();
    }
    try {
      return await this.outboxRead;
    } catch (err) {
      // NaN, not a stale value: the readiness check and its alert say the database is away.
      this.options.log.warn({ err }, 'could not read the push outbox for /metrics');
      return null;
    }
  }
}

function zeroed(child: Inc): Inc {
  child.inc(0);
  return child;
}
