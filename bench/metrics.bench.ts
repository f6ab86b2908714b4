import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { jpegBytes } from '../test/support/factories';
import { gql, ME_QUERY, prepareSendImage, register, sendImage } from './glimpse-api';
import { median, request } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { freePort } from './procs';
import type { BenchStack, GlimpseService } from './stack';
import { rotate } from './upload.bench';

/** Glimpse with METRICS_PORT=0, with metrics on (and scraped), and with tracing to a local OTLP receiver. */
type Mode = 'off' | 'metrics' | 'tracing';
const MODES: Mode[] = ['off', 'metrics', 'tracing'];
export const METRICS_BUCKET = 'bench-metrics';

export interface ObservabilityFigure {
  /** sendImage of 1 MiB, one client: ms per send (median over rounds) per mode. */
  sendImageMs: Record<Mode, number>;
  /** `me` at `connections` connections (autocannon): req/s (median over rounds) per mode. */
  meRps: Record<Mode, number>;
  /** Throughput ÷ the same with metrics off: the median over rounds of each round's ratio. */
  ratios: { 'sendImage metrics/off': number; 'sendImage tracing/off': number; 'me metrics/off': number; 'me tracing/off': number };
  rounds: number;
  sendsPerRound: number;
  meSeconds: number;
  connections: number;
  /** Scrapes of the metrics process while it was measured (one every `scrapeEveryMs`). */
  scrapes: number;
  scrapeEveryMs: number;
  /** Exports the OTLP receiver took from the tracing process, and their bytes. */
  traceExports: number;
  traceBytes: number;
  samples: { sendImageMs: Record<Mode, number[]>; meRps: Record<Mode, number[]> };
}

/**
 * What metrics and tracing cost a request: three processes of one build on one database and one
 * bucket (as instances of one deployment run), the first with metrics off, the second with
 * METRICS_PORT set and scraped the whole time (more often than Prometheus would), the third
 * exporting every span to an OTLP/HTTP receiver in this process. sendImage (1 MiB, one client)
 * goes to the three in turn one send at a time, so drift on a busy machine falls on all alike;
 * `me` is autocannon's, the three in turn, the order turning with the round.
 */
export async function benchObservability(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<ObservabilityFigure> {
  const { rounds, sendsPerRound, meSeconds, scrapeEveryMs } = plan.metrics;
  const connections = plan.requests.connections;
  const receiver = await startOtlpSink();
  const metricsPort = await freePort();
  const servers = {} as Record<Mode, GlimpseService>;
  let scraper: NodeJS.Timeout | undefined;
  try {
    // One master key, as every instance of a deployment has.
    const shared = { S3_BUCKET: METRICS_BUCKET, ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    const env: Record<Mode, Record<string, string>> = {
      off: shared,
      metrics: { ...shared, METRICS_PORT: String(metricsPort) },
      tracing: { ...shared, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'glimpse-bench' },
    };
    servers.off = await stack.startGlimpse('glimpse-metrics-off', env.off);
    // The same database: the same users, rows and indexes behind all three.
    for (const mode of ['metrics', 'tracing'] as const)
      servers[mode] = await stack.startGlimpse(`glimpse-${mode}`, { ...env[mode], DATABASE_URL: servers.off.databaseUrl });
    const sender = await register(servers.off.url, 'fixed', 100);
    const viewer = await register(servers.off.url, 'fixed', 0);
    const upload = prepareSendImage(sender.token, viewer.uid, jpegBytes(MiB));
    for (const mode of MODES) await gql(servers[mode].url, viewer.token, ME_QUERY);

    let scrapes = 0;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const scrape = async () => {
      const res = await request(metricsUrl, 'GET', {});
      if (res.status !== 200 || !res.body.includes('glimpse_graphql_requests_total')) throw new Error(`/metrics answered ${res.status}`);
      scrapes++;
    };
    await scrape();
    scraper = setInterval(() => void scrape().catch((e) => log(`scrape failed: ${e?.message ?? e}`)), scrapeEveryMs);

    const sendRound = async (r: number, sends: number) => {
      const ms: Record<Mode, number> = { off: 0, metrics: 0, tracing: 0 };
      for (let i = 0; i < sends; i++) {
        for (const mode of rotate(MODES, i + r)) {
          const t = process.hrtime.bigint();
          await sendImage(servers[mode].url, upload, MiB);
          ms[mode] += Number(process.hrtime.bigint() - t) / 1e6;
        }
      }
      await stack.emptyBucket(METRICS_BUCKET);
      return Object.fromEntries(MODES.map((m) => [m, ms[m] / sends])) as Record<Mode, number>;
    };
    const meRound = async (r: number, seconds: number) => {
      const rps = {} as Record<Mode, number>;
      for (const mode of rotate(MODES, r)) {
        const res = await autocannon({
          url: `${servers[mode].url}/graphql`,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
          body: JSON.stringify({ query: ME_QUERY }),
          connections,
          duration: seconds,
        });
        if (res.errors || res.timeouts || res.non2xx)
          throw new Error(`me (${mode}): ${res.errors} errors, ${res.timeouts} timeouts, ${res.non2xx} non-2xx`);
        rps[mode] = res.requests.average;
      }
      return rps;
    };

    if (plan.warmup) {
      await sendRound(0, Math.max(2, sendsPerRound >> 2));
      await meRound(0, 1);
    }
    const samples = {
      sendImageMs: { off: [], metrics: [], tracing: [] } as Record<Mode, number[]>,
      meRps: { off: [], metrics: [], tracing: [] } as Record<Mode, number[]>,
    };
    for (let r = 0; r < rounds; r++) {
      const s = await sendRound(r, sendsPerRound);
      const m = await meRound(r, meSeconds);
      for (const mode of MODES) {
        samples.sendImageMs[mode].push(s[mode]);
        samples.meRps[mode].push(m[mode]);
      }
    }
    clearInterval(scraper);
    scraper = undefined;
    // Per round: sendImage throughput is time off ÷ time on; me is req/s on ÷ off.
    const roundRatio = (xs: number[], ys: number[]) => median(xs.map((x, i) => x / ys[i]));
    const figure: ObservabilityFigure = {
      sendImageMs: medianOf(samples.sendImageMs),
      meRps: medianOf(samples.meRps),
      ratios: {
        'sendImage metrics/off': roundRatio(samples.sendImageMs.off, samples.sendImageMs.metrics),
        'sendImage tracing/off': roundRatio(samples.sendImageMs.off, samples.sendImageMs.tracing),
        'me metrics/off': roundRatio(samples.meRps.metrics, samples.meRps.off),
        'me tracing/off': roundRatio(samples.meRps.tracing, samples.meRps.off),
      },
      rounds,
      sendsPerRound,
      meSeconds,
      connections,
      scrapes,
      scrapeEveryMs,
      traceExports: 0,
      traceBytes: 0,
      samples,
    };
    // Stopping the tracing process sends its last spans.
    await servers.tracing.stop();
    Object.assign(figure, { traceExports: receiver.exports, traceBytes: receiver.bytes });
    if (!receiver.exports) throw new Error('the tracing process exported no spans');
    const r = figure.ratios;
    log(
      `metrics: sendImage 1 MiB ${figure.sendImageMs.off.toFixed(1)} / ${figure.sendImageMs.metrics.toFixed(1)} / ${figure.sendImageMs.tracing.toFixed(1)} ms (off / metrics / tracing), ` +
        `throughput ÷ off ${r['sendImage metrics/off'].toFixed(3)} / ${r['sendImage tracing/off'].toFixed(3)}; ` +
        `me ${figure.meRps.off.toFixed(0)} / ${figure.meRps.metrics.toFixed(0)} / ${figure.meRps.tracing.toFixed(0)} req/s, ÷ off ${r['me metrics/off'].toFixed(3)} / ${r['me tracing/off'].toFixed(3)}; ` +
        `${scrapes} scrapes, ${receiver.exports} trace exports`,
    );
    return figure;
  } finally {
    if (scraper) clearInterval(scraper);
    for (const mode of MODES) await servers[mode]?.stop().catch(() => undefined);
    await receiver.stop();
  }
}

function medianOf(x: Record<Mode, number[]>): Record<Mode, number> {
  return { off: median(x.off), metrics: median(x.metrics), tracing: median(x.tracing) };
}

/** An OTLP/HTTP endpoint that takes every export and keeps only counts: a collector's cost is not Glimpse's. */
async function startOtlpSink(): Promise<{ url: string; exports: number; bytes: number; stop(): Promise<void> }> {
  const sink = {
    url: '',
    exports: 0,
    bytes: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (sink.bytes += c.length));
    req.on('end', () => {
      sink.exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return sink;
}
