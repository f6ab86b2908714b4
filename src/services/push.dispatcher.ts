import { MAX_PUSH_TTL_MS, PushProvider, PushResult } from '../adapters/push-provider';
import type { PushConfig } from '../config';
import type { Logger } from '../logger';
import type { PushJob } from '../entities/push-job.entity';
import type { ClaimedPushJob, PushJobOutcome, PushJobRepository } from '../repositories/push-job.repository';
import { Metrics, noMetrics, PushJobOutcomeLabel } from './metrics';
import type { PushWaker } from './push.outbox';
import { pushAlert } from './push.payloads';

/** The dispatcher is tuned by the push settings (src/config.ts documents each). */
export type PushDispatcherOptions = PushConfig;

/** A job the provider took, its outcome not yet recorded. */
interface Delivered {
  job: PushJob;
  detail?: string;
}

const OUTCOME_LABELS: Record<PushJobOutcome['status'], PushJobOutcomeLabel> = {
  sent: 'sent',
  pending: 'retry',
  failed: 'failed',
  skipped: 'skipped',
};

/** What one pass did, for tests and logs. */
export interface DispatchCounts {
  claimed: number;
}

/** What PushDispatcher works with. */
export interface PushDispatcherDeps {
  jobs: PushJobRepository;
  provider: PushProvider;
  log: Logger;
  now?: () => Date;
  random?: () => number;
  metrics?: Metrics;
}

/**
 * Works through the push outbox in this server process. Every instance runs one; a claim is a
 * short transaction that hands each due job to exactly one of them, and the sends happen outside
 * it. A send that commits wakes the dispatcher; a poll catches the rest (retries coming due,
 * jobs written by other instances, leases left behind by a crash).
 */
export class PushDispatcher implements PushWaker {
  private loop: Promise<void> | null = null;
  private stopping = false;
  private woken = false;
  private sleeper: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  private readonly jobs: PushJobRepository;
  private readonly provider: PushProvider;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly metrics: Metrics;

  constructor(
    deps: PushDispatcherDeps,
    private readonly options: PushDispatcherOptions,
  ) {
    this.jobs = deps.jobs;
    this.provider = deps.provider;
    this.log = deps.log;
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.metrics = deps.metrics ?? noMetrics;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Look for due jobs now (never waits: a send calls this after its commit). */
  wake(): void {
    this.woken = true;
    const s = this.sleeper;
    if (s) s();
  }

  /** Finishes the jobs in flight and records their outcome; the rest stay for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    const loop = this.loop;
    this.loop = null;
    await loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.woken = false;
      let claimed = 0;
      try {
        claimed = (await this.dispatchOnce()).claimed;
      } catch (err) {
        this.log.error({ err }, 'push dispatcher pass failed; trying again at the next poll');
      }
      // A full batch means more may be due: go again at once.
      if (this.stopping || claimed >= this.options.batchSize) continue;
      await this.sleep(this.options.pollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.sleeper = null;
        resolve();
      };
      this.sleeper = done;
      this.timer = setTimeout(done, ms);
    });
  }

  /** One claim and the sends it took. Tests call it directly to drive a dispatcher by hand. */
  async dispatchOnce(): Promise<DispatchCounts> {
    const claimed = await this.jobs.claimDue(this.now(), this.options.batchSize, this.options.leaseMs);
    const sent = (await Promise.all(claimed.map((c) => this.deliver(c)))).filter((s): s is Delivered => s !== null);
    // A group send's pushes arrive together: their outcomes are written together, in one
    // statement, not one commit per member.
    if (sent.length) await this.recordSent(sent);
    return { claimed: claimed.length };
  }

  private async recordSent(sent: Delivered[]): Promise<void> {
    let kept: number;
    try {
      kept = await this.jobs.recordSent(
        sent.map((s) => s.job),
        this.now(),
      );
    } catch (err) {
      // The leases run out and another pass sends them again, with the same request_ids.
      this.log.error({ err, jobIds: sent.map((s) => s.job.id) }, 'could not record push outcomes');
      return;
    }
    if (kept < sent.length)
      this.log.warn(
        { jobIds: sent.map((s) => s.job.id), kept },
        'push jobs were taken over by another dispatcher before their outcome was recorded',
      );
    for (const { job, detail } of sent) {
      this.log.debug(
        { jobId: job.id, kind: job.kind, receiverUid: job.receiverUid, attempt: job.attempts, status: 'sent', detail },
        'push sent',
      );
    }
  }

  /** Sends one job; records any outcome but `sent`, which comes back to be recorded with the claim's others. */
  private async deliver({ job, cid }: ClaimedPushJob): Promise<Delivered | null> {
    const started = this.now();
    let outcome: PushJobOutcome;
    let result: PushResult | null = null;
    if (!cid) {
      outcome = { status: 'skipped', error: 'the receiver has no push client id (cid)' };
    } else if (job.expiresAt && job.expiresAt.getTime() <= started.getTime()) {
      outcome = { status: 'skipped', error: 'expired before it could be pushed' };
    } else {
      const ttlMs = job.expiresAt ? Math.min(job.expiresAt.getTime() - started.getTime(), MAX_PUSH_TTL_MS) : MAX_PUSH_TTL_MS;
      try {
        result = await this.provider.send({
          requestId: job.requestId,
          cid,
          payload: job.payload,
          ttlMs,
          alert: pushAlert(job.kind),
          kind: job.kind,
          jobId: job.id,
          receiverUid: job.receiverUid,
        });
      } catch (err) {
        result = { outcome: 'retry', reason: `push provider failed: ${(err as Error)?.message ?? err}` };
      }
      outcome = this.outcomeOf(result, job.attempts);
    }
    this.metrics.pushJob(job.kind, OUTCOME_LABELS[outcome.status]);
    if (outcome.status === 'sent') return { job, detail: result?.outcome === 'sent' ? result.detail : undefined };
    const logged = { jobId: job.id, kind: job.kind, receiverUid: job.receiverUid, attempt: job.attempts, status: outcome.status };
    try {
      const kept = await this.jobs.record(job, outcome, this.now());
      if (!kept) this.log.warn(logged, 'push job was taken over by another dispatcher before its outcome was recorded');
    } catch (err) {
      // The lease runs out and another pass sends it again, with the same request_id.
      this.log.error({ ...logged, err }, 'could not record a push outcome');
      return null;
    }
    if (outcome.status === 'pending')
      this.log.info({ ...logged, reason: outcome.error, next: outcome.nextAttemptAt }, 'push will be retried');
    else this.log.warn({ ...logged, reason: outcome.error }, `push ${outcome.status}`);
    return null;
  }

  private outcomeOf(result: PushResult, attempts: number): PushJobOutcome {
    if (result.outcome === 'sent') return { status: 'sent', detail: result.detail };
    if (result.outcome === 'give-up') return { status: 'failed', error: result.reason };
    if (attempts >= this.options.maxAttempts) return { status: 'failed', error: `gave up after ${attempts} attempts: ${result.reason}` };
    const delay = Math.max(this.backoff(attempts), result.retryAfterMs ?? 0);
    return { status: 'pending', nextAttemptAt: new Date(this.now().getTime() + delay), error: result.reason };
  }

  /** Exponential, capped, with jitter: between half and all of base × 2^(attempt-1). */
  backoff(attempt: number): number {
    const full = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** Math.min(attempt - 1, 40));
    return Math.round(full / 2 + (this.random() * full) / 2);
  }
}
