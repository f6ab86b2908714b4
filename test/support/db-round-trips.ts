import type { DataSource } from 'typeorm';

/** One statement (or one batch of statements) sent to MySQL, and the answer awaited. */
export interface RoundTrip {
  sql: string;
}

export interface RoundTripCounter {
  /** Everything sent since the counter started (or was last reset). */
  readonly trips: readonly RoundTrip[];
  reset(): void;
  /** Runs `work` and answers the round trips it made, with their SQL for the failure message. */
  during(work: () => Promise<unknown>): Promise<RoundTrip[]>;
  stop(): void;
}

type QueryFn = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Counts the database round trips of the Glimpse server behind `db` (MySQL): every `query` or
 * `execute` on one of its pool's connections is one exchange with the server, whatever made it
 * (TypeORM, the rate limiter's store, plain SQL), and a batch of several statements sent at once
 * is one. It patches mysql2's connection class, so it sees every connection of this process:
 * measure while nothing else talks to the database (stop the server's background loops first).
 */
export async function countRoundTrips(db: DataSource): Promise<RoundTripCounter> {
  if (db.options.type !== 'mysql') throw new Error('round trips are counted on MySQL, where each is a network exchange');
  const pool = (db.driver as unknown as { pool: { getConnection(cb: (e: Error | null, c: object & { release(): void }) => void): void } })
    .pool;
  const conn = await new Promise<object & { release(): void }>((resolve, reject) =>
    pool.getConnection((e, c) => (e ? reject(e) : resolve(c))),
  );
  conn.release();
  const trips: RoundTrip[] = [];
  const restore: (() => void)[] = [];
  for (const name of ['query', 'execute'] as const) {
    let proto: object | null = Object.getPrototypeOf(conn);
    while (proto && !Object.prototype.hasOwnProperty.call(proto, name)) proto = Object.getPrototypeOf(proto);
    if (!proto) throw new Error(`mysql2 connections have no ${name} method`);
    const owner = proto as Record<string, QueryFn>;
    const original = owner[name];
    owner[name] = function (this: unknown, ...args: unknown[]) {
      const first = args[0] as string | { sql?: string };
      trips.push({ sql: typeof first === 'string' ? first : String(first?.sql ?? first) });
      return original.apply(this, args);
    };
    restore.push(() => (owner[name] = original));
  }
  return {
    trips,
    reset: () => void trips.splice(0),
    async during(work) {
      const from = trips.length;
      await work();
      return trips.slice(from);
    },
    stop: () => restore.forEach((r) => r()),
  };
}

/** The SQL of each round trip on its own line, shortened: for a failing assertion's message. */
export function describeTrips(trips: readonly RoundTrip[]): string {
  return trips.map((t, i) => `${i + 1}. ${t.sql.replace(/\s+/g, ' ').slice(0, 160)}`).join('\n');
}
