import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { jpegBytes } from '../test/support/factories';
import { BenchUser, gql, ME_QUERY, PreparedUpload, prepareSendImage, register, sendImage } from './glimpse-api';
import { median, request } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { cpuNsOf, freePort } from './procs';
import { groupBootstrap } from './resample';
import type { BenchStack, GlimpseService } from './stack';
import { balancedOrder, rotate } from './order';

/**
 * Glimpse with neither metrics nor tracing (`off`, and its twin `control`, configured alike), with
 * metrics on (and scraped), and with tracing to a local OTLP receiver.
 */
type Mode = 'off' | 'control' | 'metrics' | 'tracing';
const MODES: Mode[] = ['off', 'control', 'metrics', 'tracing'];
/** What is compared with `off`: `control` is the A/A check of the design itself. */
type Compared = Exclude<Mode, 'off'>;
const COMPARED: Compared[] = ['control', 'metrics', 'tracing'];
export const METRICS_BUCKET = 'bench-metrics';

type Op = 'sendImage' | 'me';
const OPS: Op[] = ['sendImage', 'me'];

/** One operation's cost in one process over one round: wall time and the server's CPU time, per operation. */
interface Cost {
  wallMs: number;
  cpuMs: number;
}

type Round = Record<Op, Record<Mode, Cost>> & {
  /** The order `me` ran in against the four. */
  meOrder: Mode[];
};

/** Throughput with metrics (or tracing) on ÷ off: per-operation time off ÷ on. */
export interface OnOffRatio {
  /** The median over all rounds of every set of each round's ratio. */
  value: number;
  /** 95 % interval, resampling whole sets (the rounds of one set of processes are not independent). */
  interval: [number, number];
  /** The same estimate on each set alone: how far one set of processes can be from the rest. */
  sets: number[];
}

export interface OperationFigure {
  /** Per operation, median over all rounds: wall time as the client saw it, and the server's CPU time. */
  wallMs: Record<Mode, number>;
  cpuMs: Record<Mode, number>;
  /**
   * `wall`: throughput as the client saw it. `cpu`: operations per CPU-second of the server,
   * which is what its throughput is once it is CPU-bound, free of how the scheduler shared the
   * cores with the client, the database and the other processes. `control` ÷ off compares two
   * processes configured alike: how far the design itself leans, and how far apart two
   * processes of one build land.
   */
  wall: Record<Compared, OnOffRatio>;
  cpu: Record<Compared, OnOffRatio>;
}

export interface ObservabilityFigure {
  /** sendImage of 1 MiB, one client, one send at a time. */
  sendImage: OperationFigure;
  /** `me` at `connections` connections (autocannon). */
  me: OperationFigure;
  sets: number;
  roundsPerSet: number;
  warmupRounds: number;
  sendsPerRound: number;
  meSeconds: number;
  connections: number;
  /** Scrapes of the metrics processes while they were measured (one every `scrapeEveryMs`). */
  scrapes: number;
  scrapeEveryMs: number;
  /** Exports the OTLP receiver took from the tracing processes, and their bytes. */
  traceExports: number;
  traceBytes: number;
  /** Every round of every set. */
  samples: Round[][];
}

/** Four instances of one build on one database, bucket and master key, as a deployment runs. */
interface Quartet {
  servers: Record<Mode, GlimpseService>;
  metricsUrl: string;
  viewer: BenchUser;
  upload: PreparedUpload;
}

/**
 * What metrics and tracing cost a request. Two processes of one build, configured alike, differ
 * in throughput by more than the 2 % the goal allows (V8 settles each into its own rhythm), so
 * one process per mode cannot show it. Like the encryption section, the figure comes from many
 * fresh sets of four processes: metrics off, a twin of it (the A/A control: how far the design
 * leans when nothing differs), metrics on (scraped the whole time, more often than Prometheus
 * would), and tracing exporting every span to an OTLP/HTTP receiver in this process. Within a
 * set, sendImage (1 MiB, one client) goes to the four in turn one send at a time, so drift on a
 * busy machine falls on all alike, and `me` is autocannon's against each in turn; every order is
 * a balanced one (balancedOrder), so no process always follows the same other. Each process's
 * CPU time is read from the kernel around its share of the work, so its cost per operation is
 * known apart from the wait for a core.
 */
export async function benchObservability(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<ObservabilityFigure> {
  const { sets, roundsPerSet, warmupRounds, sendsPerRound, meSeconds, scrapeEveryMs } = plan.metrics;
  const connections = plan.requests.connections;
  const receiver = await startOtlpSink();
  const image = jpegBytes(MiB);
  let scrapes = 0;
  const rounds: Round[][] = [];
  try {
    for (let s = 0; s < sets; s++) {
      const quartet = await startQuartet(stack, s, receiver.url, image);
      const scrape = async () => {
        const res = await request(quartet.metricsUrl, 'GET', {});
        if (res.status !== 200 || !res.body.includes('glimpse_graphql_requests_total')) throw new Error(`/metrics answered ${res.status}`);
        scrapes++;
      };
      let scraper: NodeJS.Timeout | undefined;
      const mine: Round[] = [];
      try {
        await scrape();
        scraper = setInterval(() => void scrape().catch((e) => log(`scrape failed: ${e?.message ?? e}`)), scrapeEveryMs);
        for (let r = 0; r < warmupRounds; r++) await round(stack, quartet, r, Math.max(2, sendsPerRound >> 1), meSeconds, connections);
        // Rounds are numbered over the whole run, so the run as a whole is balanced.
        for (let r = 0; r < roundsPerSet; r++)
          mine.push(await round(stack, quartet, s * roundsPerSet + r, sendsPerRound, meSeconds, connections));
      } finally {
        if (scraper) clearInterval(scraper);
        // Stopping a tracing process sends its last spans.
        for (const mode of MODES) await quartet.servers[mode].stop().catch(() => undefined);
      }
      rounds.push(mine);
      const line = OPS.map(
        (op) =>
          `${op} ${ratioOf([mine], op, 'wall', 'metrics').toFixed(3)} / cpu ${ratioOf([mine], op, 'cpu', 'metrics').toFixed(3)}` +
          ` (control ${ratioOf([mine], op, 'wall', 'control').toFixed(3)})`,
      );
      log(`metrics set ${s + 1}/${sets}, metrics on ÷ off: ${line.join(', ')}`);
    }
    if (!receiver.exports) throw new Error('the tracing processes exported no spans');
    const figure: ObservabilityFigure = {
      sendImage: operationFigure(rounds, 'sendImage'),
      me: operationFigure(rounds, 'me'),
      sets,
      roundsPerSet,
      warmupRounds,
      sendsPerRound,
      meSeconds,
      connections,
      scrapes,
      scrapeEveryMs,
      traceExports: receiver.exports,
      traceBytes: receiver.bytes,
      samples: rounds,
    };
    const describe = (r: OnOffRatio) =>
      `${r.value.toFixed(3)} (95 % ${r.interval[0].toFixed(3)}–${r.interval[1].toFixed(3)}; sets ${Math.min(...r.sets).toFixed(2)}–${Math.max(...r.sets).toFixed(2)})`;
    for (const op of OPS) {
      const f = figure[op];
      log(
        `metrics ${op} (${sets} sets × ${roundsPerSet} rounds): ms per op ${fmt(f.wallMs, 3)}, CPU ms ${fmt(f.cpuMs, 3)} (${MODES.join(' / ')}); ` +
          COMPARED.map((c) => `${c} ÷ off ${describe(f.wall[c])}, per CPU ${describe(f.cpu[c])}`).join('; '),
      );
    }
    log(`metrics: ${scrapes} scrapes, ${receiver.exports} trace exports`);
    return figure;
  } finally {
    await receiver.stop();
  }
}

/** Throughput on ÷ off (time off ÷ time on) in each round, the median over all of `groups`' rounds. */
function ratioOf(groups: Round[][], op: Op, of: 'wall' | 'cpu', on: Compared): number {
  const key = of === 'wall' ? 'wallMs' : 'cpuMs';
  return median(groups.flat().map((r) => r[op].off[key] / r[op][on][key]));
}

function operationFigure(rounds: Round[][], op: Op): OperationFigure {
  const all = rounds.flat();
  const per = (key: keyof Cost) => Object.fromEntries(MODES.map((m) => [m, median(all.map((r) => r[op][m][key]))])) as Record<Mode, number>;
  const ratio = (of: 'wall' | 'cpu', on: Compared): OnOffRatio => ({
    value: ratioOf(rounds, op, of, on),
    interval: groupBootstrap(rounds, (g) => ratioOf(g, op, of, on)),
    sets: rounds.map((g) => ratioOf([g], op, of, on)),
  });
  return {
    wallMs: per('wallMs'),
    cpuMs: per('cpuMs'),
    wall: Object.fromEntries(COMPARED.map((c) => [c, ratio('wall', c)])) as Record<Compared, OnOffRatio>,
    cpu: Object.fromEntries(COMPARED.map((c) => [c, ratio('cpu', c)])) as Record<Compared, OnOffRatio>,
  };
}

/**
 * A fresh set of four: one database, bucket and master key (the first to start creates the
 * database; which one that is turns with `s`), and a sender and a viewer.
 */
async function startQuartet(stack: BenchStack, s: number, otlpUrl: string, image: Buffer): Promise<Quartet> {
  const metricsPort = await freePort();
  const shared = {
    S3_BUCKET: METRICS_BUCKET,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ...stack.redisEnv(`glimpse-metrics-${s}`),
  };
  const env: Record<Mode, Record<string, string>> = {
    off: shared,
    control: shared,
    metrics: { ...shared, METRICS_PORT: String(metricsPort) },
    tracing: { ...shared, OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_SERVICE_NAME: 'glimpse-bench' },
  };
  const servers = {} as Record<Mode, GlimpseService>;
  try {
    for (const mode of rotate(MODES, s)) {
      const first = Object.values(servers)[0];
      servers[mode] = await stack.startGlimpse(
        `glimpse-${mode}-${s}`,
        first ? { ...env[mode], DATABASE_URL: first.databaseUrl } : env[mode],
      );
    }
    const sender = await register(servers.off.url, 'fixed', 100);
    const viewer = await register(servers.off.url, 'fixed', 0);
    for (const mode of MODES) await gql(servers[mode].url, viewer.token, ME_QUERY);
    return {
      servers,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      viewer,
      upload: prepareSendImage(sender.token, viewer.uid, image),
    };
  } catch (e) {
    for (const svc of Object.values(servers)) await svc.stop().catch(() => undefined);
    throw e;
  }
}

/**
 * `sends` sends of 1 MiB through each process in turn (a process's CPU is counted over the whole
 * loop: it idles while the others work), then `me` for `seconds` against each in turn.
 */
async function round(
  stack: BenchStack,
  quartet: Quartet,
  index: number,
  sends: number,
  seconds: number,
  connections: number,
): Promise<Round> {
  const cpu = () => Object.fromEntries(MODES.map((m) => [m, cpuNsOf(quartet.servers[m].pid)])) as Record<Mode, number>;
  const wall = Object.fromEntries(MODES.map((m) => [m, 0])) as Record<Mode, number>;
  const before = cpu();
  for (let i = 0; i < sends; i++) {
    for (const mode of balancedOrder(MODES, i + index)) {
      const t = process.hrtime.bigint();
      await sendImage(quartet.servers[mode].url, quartet.upload, MiB);
      wall[mode] += Number(process.hrtime.bigint() - t) / 1e6;
    }
  }
  const after = cpu();
  const sent = Object.fromEntries(
    MODES.map((m) => [m, { wallMs: wall[m] / sends, cpuMs: (after[m] - before[m]) / 1e6 / sends }]),
  ) as Record<Mode, Cost>;
  await stack.emptyBucket(METRICS_BUCKET);
  const me = {} as Record<Mode, Cost>;
  const order = balancedOrder(MODES, index);
  for (const mode of order) {
    const pid = quartet.servers[mode].pid;
    const cpuBefore = cpuNsOf(pid);
    const res = await autocannon({
      url: `${quartet.servers[mode].url}/graphql`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${quartet.viewer.token}` },
      body: JSON.stringify({ query: ME_QUERY }),
      connections,
      duration: seconds,
    });
    const cpuNs = cpuNsOf(pid) - cpuBefore;
    if (res.errors || res.timeouts || res.non2xx)
      throw new Error(`me (${mode}): ${res.errors} errors, ${res.timeouts} timeouts, ${res.non2xx} non-2xx`);
    me[mode] = { wallMs: (res.duration * 1000) / res.requests.total, cpuMs: cpuNs / 1e6 / res.requests.total };
  }
  return { sendImage: sent, me, meOrder: order };
}

function fmt(x: Record<Mode, number>, digits: number): string {
  return MODES.map((m) => x[m].toFixed(digits)).join(' / ');
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
