import type { Logger } from '../logger';
import type { OutboxRow, PushJobRepository } from '../repositories/push-job.repository';
import type { EventFeed } from '../services/event-feed';

/**
 * An id is taken when a row is inserted but seen only when its transaction commits, so a row
 * can appear below ids already read. Each poll reads again this far behind the highest id seen
 * (by when that id was seen) and skips the ids it has delivered: a transaction that commits
 * within this long of a later one is not missed. Outbox transactions last milliseconds.
 */
const LATE_COMMIT_MS = 10_000;
/** Receivers per query: the IN list stays well inside SQLite's parameter limit. */
const UIDS_PER_QUERY = 500;
const ROWS_PER_QUERY = 1000;

/**
 * The feed without Redis: rows this instance commits are handed over at once; every `pollMs`
 * the instance reads the shared outbox for the rows of the users connected to it, newer than
 * its watermark, so that several instances on one database need nothing else.
 */
export class OutboxPollEventFeed implements EventFeed {
  readonly description = 'database (outbox poll)';
  private handler: (rows: OutboxRow[]) => void = () => undefined;
  /** Watched uid → [watch count, the highest id committed when the first watch began]. */
  private readonly watched = new Map<number, { count: number; since: number }>();
  /** Ids delivered above the floor. */
  private readonly seen = new Set<number>();
  /** The highest id seen at each poll, oldest first, back to LATE_COMMIT_MS ago. */
  private marks: { at: number; top: number }[] = [];
  private floor = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly jobs: PushJobRepository,
    private readonly pollMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    jobs.onCommitted((rows) => this.take(rows));
  }

  onRows(handler: (rows: OutboxRow[]) => void): void {
    this.handler = handler;
  }

  async watch(uid: number): Promise<void> {
    const w = this.watched.get(uid);
    if (w) {
      w.count++;
      return;
    }
    // Set before the await, so that a second watch meanwhile counts instead of starting over.
    const entry = { count: 1, since: Number.MAX_SAFE_INTEGER };
    this.watched.set(uid, entry);
    try {
      entry.since = await this.jobs.lastId();
    } catch (e) {
      this.unwatch(uid);
      throw e;
    }
    this.timer ??= setInterval(() => void this.poll(), this.pollMs).unref();
  }

  unwatch(uid: number): void {
    const w = this.watched.get(uid);
    if (!w) return;
    if (--w.count > 0) return;
    this.watched.delete(uid);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.marks = [];
      this.seen.clear();
      this.floor = 0;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }

  /** One poll at a time: a slow database skips ticks rather than stacking queries. */
  poll(): Promise<void> {
    this.polling ??= this.readNew()
      .catch((err) => this.log.warn({ err }, 'realtime: could not read the outbox; will retry'))
      .finally(() => {
        this.polling = null;
      });
    return this.polling;
  }

  private async readNew(): Promise<void> {
    if (!this.watched.size) return;
    const now = this.now();
    this.marks.push({ at: now, top: await this.jobs.lastId() });
    while (this.marks.length > 1 && this.marks[1].at <= now - LATE_COMMIT_MS) this.marks.shift();
    if (this.marks[0].at <= now - LATE_COMMIT_MS) this.floor = Math.max(this.floor, this.marks[0].top);
    for (const id of this.seen) if (id <= this.floor) this.seen.delete(id);
    const uids = [...this.watched.keys()];
    const since = Math.min(...uids.map((u) => this.watched.get(u)!.since));
    for (let i = 0; i < uids.length; i += UIDS_PER_QUERY) {
      const chunk = uids.slice(i, i + UIDS_PER_QUERY);
      let after = Math.max(this.floor, since);
      for (;;) {
        const rows = await this.jobs.listForReceivers(after, chunk, ROWS_PER_QUERY);
        this.take(rows);
        if (rows.length < ROWS_PER_QUERY) break;
        after = rows[rows.length - 1].id;
      }
    }
  }

  /** Hands over the rows of watched users that are new to this instance, each once. */
  private take(rows: OutboxRow[]): void {
    const fresh: OutboxRow[] = [];
    for (const row of rows) {
      const w = this.watched.get(row.receiverUid);
      if (!w || row.id <= w.since || row.id <= this.floor || this.seen.has(row.id)) continue;
      this.seen.add(row.id);
      fresh.push(row);
    }
    if (fresh.length) this.handler(fresh);
  }
}
