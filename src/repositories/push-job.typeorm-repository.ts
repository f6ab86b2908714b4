import { randomBytes } from 'node:crypto';
import { DataSource, EntityManager, EntitySubscriberInterface, In, MoreThan, QueryRunner } from 'typeorm';
import { deleteBatch, inTransaction, withTxRetry } from '../database';
import { PushJob } from '../entities/push-job.entity';
import { User } from '../entities/user.entity';
import { insertRows } from './bulk-insert.typeorm';
import type { ClaimedPushJob, NewPushJob, OutboxBacklog, OutboxRow, PushJobOutcome, PushJobRepository } from './push-job.repository';

const DUE = ['pending', 'sending'];
const FINISHED = ['sent', 'failed', 'skipped'];

export const PUSH_JOB_COLUMNS = [
  'receiver_uid',
  'cid',
  'kind',
  'payload',
  'request_id',
  'status',
  'attempts',
  'next_attempt_at',
  'lease_token',
  'locked_until',
  'last_error',
  'expires_at',
  'created_at',
  'updated_at',
  'sent_at',
] as const;

/**
 * 32 hex characters each: inside GeTui's 10 to 32, and unique enough never to collide. Drawn in
 * one call for a whole batch: a group send needs one per member.
 */
export function newRequestIds(n: number): string[] {
  const hex = randomBytes(16 * n).toString('hex');
  return Array.from({ length: n }, (_, i) => hex.slice(32 * i, 32 * (i + 1)));
}

/**
 * Writes outbox rows inside the caller's transaction, so a push exists exactly when what it
 * announces does. Other repositories call this from their own transactions. One multi-row
 * INSERT: a group send writes one job per member.
 */
export async function insertPushJobs(tx: EntityManager, jobs: NewPushJob[], now: Date): Promise<PushJob[]> {
  if (!jobs.length) return [];
  const rows = newPushJobRows(jobs, now);
  await insertRows(tx, PushJob, PUSH_JOB_COLUMNS, rows);
  const runner = tx.queryRunner;
  if (runner?.isTransactionActive) {
    const data = runner.data as PendingJobs;
    (data.glimpsePushJobs ??= []).push(...rows);
  } else {
    announcePushJobs(tx.connection, rows);
  }
  return rows;
}

/** The rows of new jobs, due now. */
export function newPushJobRows(jobs: NewPushJob[], now: Date): PushJob[] {
  const requestIds = newRequestIds(jobs.length);
  return jobs.map((j, i) =>
    Object.assign(new PushJob(), {
      ...j,
      cid: j.cid ?? null,
      requestId: requestIds[i],
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      leaseToken: null,
      lockedUntil: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
      sentAt: null,
    }),
  );
}

/** Jobs written in the transaction a query runner has open, announced when it commits. */
interface PendingJobs {
  glimpsePushJobs?: PushJob[];
}

const listeners = new WeakMap<DataSource, ((rows: OutboxRow[]) => void)[]>();

/** Tells the outbox's listeners of jobs that were written outside a TypeORM transaction, once committed. */
export function announcePushJobs(db: DataSource, rows: OutboxRow[]): void {
  for (const listener of listeners.get(db) ?? []) listener(rows);
}

function takePending(runner: QueryRunner): PushJob[] {
  const data = runner.data as PendingJobs;
  const rows = data.glimpsePushJobs ?? [];
  // SQLite's driver shares one query runner among all transactions: start each one empty.
  delete data.glimpsePushJobs;
  return rows;
}

/**
 * Hears every transaction end (TypeORM calls subscribers after COMMIT and ROLLBACK, and after each
 * savepoint, where the transaction is still active): jobs become visible only with the outer commit.
 */
const commitWatcher: EntitySubscriberInterface = {
  afterTransactionCommit(event) {
    if (event.queryRunner.isTransactionActive) return;
    const rows = takePending(event.queryRunner);
    if (rows.length) announcePushJobs(event.queryRunner.dataSource, rows);
  },
  afterTransactionRollback(event) {
    if (!event.queryRunner.isTransactionActive) takePending(event.queryRunner);
  },
};

export class TypeormPushJobRepository implements PushJobRepository {
  private readonly mysql: boolean;

  constructor(private readonly db: DataSource) {
    this.mysql = db.options.type === 'mysql';
  }

  enqueue(jobs: NewPushJob[], now: Date): Promise<PushJob[]> {
    return inTransaction(this.db, (tx) => insertPushJobs(tx, jobs, now));
  }

  async claimDue(now: Date, limit: number, leaseMs: number): Promise<ClaimedPushJob[]> {
    const token = randomBytes(16).toString('hex');
    const until = new Date(now.getTime() + leaseMs);
    const claim = {
      status: 'sending' as const,
      attempts: () => 'attempts + 1',
      leaseToken: token,
      lockedUntil: until,
      nextAttemptAt: until,
      updatedAt: now,
    };
    let jobs: PushJob[];
    if (this.mysql) {
      // Short, and READ COMMITTED: no gap locks, so outbox INSERTs of concurrent sends never wait
      // on (or deadlock with) a claim. SKIP LOCKED lets other instances claim other rows meanwhile.
      // No ORDER BY: a sort would make InnoDB lock every due row, not just the ones taken.
      jobs = await withTxRetry(() =>
        this.db.transaction('READ COMMITTED', async (tx) => {
          const rows = await tx
            .getRepository(PushJob)
            .createQueryBuilder('j')
            .where('j.status IN (:...due) AND j.next_attempt_at <= :now', { due: DUE, now })
            .limit(limit)
            .setLock('pessimistic_write')
            .setOnLocked('skip_locked')
            .getMany();
          if (!rows.length) return [];
          await tx
            .createQueryBuilder()
            .update(PushJob)
            .set(claim)
            .whereInIds(rows.map((r) => r.id))
            .execute();
          return rows.map((r) => Object.assign(r, { ...claim, attempts: r.attempts + 1 }));
        }),
      );
    } else {
      // SQLite has one writer at a time and no row locks: one guarded UPDATE is the claim, and the
      // lease token says afterwards which rows it took.
      await withTxRetry(() =>
        this.db
          .createQueryBuilder()
          .update(PushJob)
          .set(claim)
          .where(
            `id IN (SELECT id FROM push_job WHERE status IN ('pending', 'sending') AND next_attempt_at <= :now ORDER BY next_attempt_at LIMIT :limit)`,
            { now, limit },
          )
          .execute(),
      );
      jobs = await this.db.getRepository(PushJob).find({ where: { leaseToken: token }, order: { id: 'ASC' } });
    }
    if (!jobs.length) return [];
    // Read after the claim, not at enqueue time: a cid changed since the send is the one used.
    const users = await this.db
      .getRepository(User)
      .find({ select: { uid: true, cid: true }, where: { uid: In([...new Set(jobs.map((j) => j.receiverUid))]) } });
    const cids = new Map(users.map((u) => [u.uid, u.cid]));
    return jobs.map((job) => ({ job, cid: job.cid ?? cids.get(job.receiverUid) ?? null }));
  }

  async record(job: PushJob, outcome: PushJobOutcome, now: Date): Promise<boolean> {
    const done = { leaseToken: null, lockedUntil: null, updatedAt: now };
    const change =
      outcome.status === 'sent'
        ? { ...done, status: 'sent' as const, sentAt: now, lastError: null }
        : outcome.status === 'pending'
          ? { ...done, status: 'pending' as const, nextAttemptAt: outcome.nextAttemptAt, lastError: outcome.error.slice(0, 512) }
          : { ...done, status: outcome.status, lastError: outcome.error.slice(0, 512) };
    const res = await withTxRetry(() =>
      this.db
        .createQueryBuilder()
        .update(PushJob)
        .set(change)
        .where('id = :id AND status = :sending AND lease_token = :token', { id: job.id, sending: 'sending', token: job.leaseToken })
        .execute(),
    );
    return (res.affected ?? 0) > 0;
  }

  deleteFinishedBefore(before: Date, limit: number): Promise<number> {
    // updated_at is when the outcome was recorded: a finished job is never written again.
    return deleteBatch(this.db, PushJob, 'status IN (:...finished) AND updated_at < :before', { finished: FINISHED, before }, limit);
  }

  onCommitted(listener: (rows: OutboxRow[]) => void): void {
    const list = listeners.get(this.db);
    if (list) {
      list.push(listener);
      return;
    }
    listeners.set(this.db, [listener]);
    (this.db.subscribers as EntitySubscriberInterface[]).push(commitWatcher);
  }

  async lastId(): Promise<number> {
    const [row] = (await this.db.query('SELECT MAX(id) AS id FROM push_job')) as { id: number | string | null }[];
    return Number(row?.id ?? 0);
  }

  listForReceivers(afterId: number, receiverUids: number[], limit: number): Promise<OutboxRow[]> {
    if (!receiverUids.length) return Promise.resolve([]);
    return this.db.getRepository(PushJob).find({
      select: { id: true, receiverUid: true, kind: true, payload: true, createdAt: true },
      where: { id: MoreThan(afterId), receiverUid: In(receiverUids) },
      order: { id: 'ASC' },
      take: limit,
    });
  }

  async recordSent(jobs: PushJob[], now: Date): Promise<number> {
    const byClaim = new Map<string | null, number[]>();
    for (const j of jobs) byClaim.set(j.leaseToken, [...(byClaim.get(j.leaseToken) ?? []), j.id]);
    let kept = 0;
    for (const [token, ids] of byClaim) {
      if (token === null) continue;
      const res = await withTxRetry(() =>
        this.db
          .createQueryBuilder()
          .update(PushJob)
          .set({ status: 'sent', sentAt: now, lastError: null, leaseToken: null, lockedUntil: null, updatedAt: now })
          .where('id IN (:...ids) AND status = :sending AND lease_token = :token', { ids, sending: 'sending', token })
          .execute(),
      );
      kept += res.affected ?? 0;
    }
    return kept;
  }

  async backlog(now: Date): Promise<OutboxBacklog> {
    const repo = this.db.getRepository(PushJob);
    // One lookup per status on idx_push_job_due (status, next_attempt_at): the first row is the
    // longest due, whatever the backlog's size.
    const firstDue = (status: string) =>
      repo
        .createQueryBuilder('j')
        .select(['j.id', 'j.nextAttemptAt'])
        .where('j.status = :status AND j.next_attempt_at <= :now', { status, now })
        .orderBy('j.next_attempt_at', 'ASC')
        .limit(1)
        .getOne();
    const [pending, ...due] = await Promise.all([repo.count({ where: { status: In(DUE) } }), ...DUE.map(firstDue)]);
    const times = due.filter((j): j is PushJob => j !== null).map((j) => j.nextAttemptAt.getTime());
    return { pending, oldestDueAt: times.length ? new Date(Math.min(...times)) : null };
  }
}
