import { BenchUser, IMAGES_QUERY } from './glimpse-api';
import { median, percentile, request } from './http';
import type { Plan } from './plan';
import { seedMessages, VIEWER_PENDING } from './seed';
import type { BenchStack } from './stack';

export interface LatencyFigure {
  rows: number;
  /** How long the bulk insert took (not part of the figure). */
  seedMs: number;
  p50: number;
  p99: number;
}

/**
 * Latency of the `images` query (one request at a time) for a viewer with the same few pending
 * images while the message table holds 10^4 and then 10^6 rows, bulk-inserted with SQL.
 */
export async function benchImages(
  stack: BenchStack,
  plan: Plan,
  viewer: BenchUser,
  log: (s: string) => void,
): Promise<{ small: LatencyFigure; large: LatencyFigure }> {
  const body = Buffer.from(JSON.stringify({ query: IMAGES_QUERY }));
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` };
  const measure = async (rows: number): Promise<LatencyFigure> => {
    const seeded = await seedMessages(stack.glimpse.databaseUrl, viewer.uid, rows, plan.images.settleMs);
    const times: number[] = [];
    for (let i = 0; i < plan.images.samples + 20; i++) {
      const start = process.hrtime.bigint();
      const res = await request(`${stack.glimpse.url}/graphql`, 'POST', headers, body);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const parsed = JSON.parse(res.body.toString('utf8')) as { data?: { images: unknown[] } };
      if (parsed.data?.images.length !== VIEWER_PENDING) throw new Error(`images answered ${res.body.toString('utf8').slice(0, 300)}`);
      if (i >= 20) times.push(ms);
    }
    const fig = { rows: seeded.rows, seedMs: seeded.ms, p50: median(times), p99: percentile(times, 99) };
    log(
      `images with ${fig.rows} messages (seeded in ${(fig.seedMs / 1000).toFixed(1)} s): p50 ${fig.p50.toFixed(2)} ms, p99 ${fig.p99.toFixed(2)} ms`,
    );
    return fig;
  };
  const small = await measure(plan.images.smallRows);
  const large = await measure(plan.images.largeRows);
  return { small, large };
}
