import { randomBytes } from 'node:crypto';
import { jpegBytes } from '../test/support/factories';
import { BenchUser, downloadUrlOf, PreparedUpload, prepareSendImage, register, sendImage } from './glimpse-api';
import { getCounting, median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { groupBootstrap } from './resample';
import { BenchStack, GLIMPSE_BUCKET, GlimpseService } from './stack';

export interface OnOffFigure {
  size: number;
  /** Operations of each kind per round, alternating one by one (on, off, off, on, …). */
  perSample: number;
  /** Downloads: each image is downloaded this many times per round (fresh URLs), so perSample × this of each kind. */
  downloadsPerImage: number;
  /** Fresh pairs of instances the rounds come from, and rounds on each. */
  pairs: number;
  roundsPerPair: number;
  /** ms per operation, median over all rounds. */
  onMs: number;
  offMs: number;
  /** Throughput on ÷ off: the median over all rounds of (time off ÷ time on) in the round. */
  ratio: number;
  /** 95 % interval of `ratio`, resampling whole pairs (rounds of one pair of processes are not independent). */
  interval: [number, number];
  /** The same estimate on each pair alone: how far one pair of processes can be from the rest. */
  pairRatios: number[];
  /** ms per operation in each round. */
  samples: { on: number[]; off: number[] };
}

type Mode = 'on' | 'off';

/** Two instances of one build sharing a database and a bucket, as a deployment of several runs. */
interface Pair {
  on: GlimpseService;
  off: GlimpseService;
  receiver: BenchUser;
  body: PreparedUpload;
}

interface Round {
  send: Record<Mode, number>;
  download: Record<Mode, number>;
}

/**
 * Issue 10's comparison on its own: sendImage with encryption at rest against the same build
 * with ENCRYPTION=off, and the download of a sealed image against that of a plain one. One
 * client, one operation at a time.
 *
 * Two processes of one build, configured alike, can measure far apart: V8 settles each into
 * its own garbage-collection rhythm. So:
 *   - every pair of instances shares one database and bucket (as the instances of one
 *     deployment do: docs/operations.md, "Several instances"),
 *     and the two kinds of operation alternate one by one, so that drift on a noisy machine
 *     falls on both alike;
 *   - downloads need no second process at all: each instance serves both sealed images (sent
 *     through the encrypting instance) and plain ones (sent through the other), alternately.
 *     A plain blob takes the very code path a server with ENCRYPTION=off takes, so the ratio
 *     is the cost of decryption alone, free of which process happened to be slower;
 *   - sends cannot share a process (encryption is an instance's setting), so their rounds come
 *     from many fresh pairs, and the interval resamples pairs.
 */
export async function benchEncryption(
  stack: BenchStack,
  plan: Plan,
  log: (s: string) => void,
): Promise<{ send: OnOffFigure[]; download: OnOffFigure[] }> {
  const send: OnOffFigure[] = [];
  const download: OnOffFigure[] = [];
  const { pairs, roundsPerPair } = plan.encryption;
  for (const size of plan.encryption.sizes) {
    const image = jpegBytes(size);
    const perSample = plan.encryption.perSample(size);
    if (perSample % 2 !== 0) throw new Error('encryption.perSample must be even: each instance downloads half');
    const rounds: Round[][] = [];
    for (let p = 0; p < pairs; p++) {
      const pair = await startPair(stack, `glimpse-enc-${size / MiB}m-${p}`, image, p);
      const mine: Round[] = [];
      try {
        for (let r = 0; r < plan.encryption.warmupRounds(size); r++)
          await round(stack, pair, size, plan.encryption.warmupPerSample(size), 1, r);
        for (let r = 0; r < roundsPerPair; r++) mine.push(await round(stack, pair, size, perSample, plan.encryption.downloadsPerImage, r));
      } finally {
        await pair.on.stop();
        await pair.off.stop();
      }
      rounds.push(mine);
    }
    send.push(figure(size, perSample, plan, rounds, (r) => r.send));
    download.push(figure(size, perSample, plan, rounds, (r) => r.download));
    const describe = (f: OnOffFigure) =>
      `${f.ratio.toFixed(3)} (95 % ${f.interval[0].toFixed(2)}–${f.interval[1].toFixed(2)}; pairs ${Math.min(...f.pairRatios).toFixed(2)}–${Math.max(...f.pairRatios).toFixed(2)})`;
    log(
      `encryption ${size / MiB} MiB (${pairs} pairs × ${roundsPerPair} rounds): sendImage on/off ${describe(send.at(-1)!)}, download on/off ${describe(download.at(-1)!)}`,
    );
  }
  return { send, download };
}

/**
 * One round: `perSample` sends through each instance, then each image downloaded `downloads`
 * times (a fresh URL each time), half of them through each instance. Which kind goes first turns
 * with the round, the instance and the repeat as well as the step: an operation runs slower right
 * after another (the collector takes back what the one before left), so with one download of
 * each kind per instance a fixed order would favour one kind.
 */
async function round(stack: BenchStack, pair: Pair, size: number, perSample: number, downloads: number, index: number): Promise<Round> {
  const keys: Record<Mode, string[]> = { on: [], off: [] };
  const sent = { on: 0, off: 0 };
  for (let i = 0; i < perSample; i++) {
    for (const mode of alternate(i + index)) {
      const t = process.hrtime.bigint();
      keys[mode].push(await sendImage(pair[mode].url, pair.body, size));
      sent[mode] += elapsedMs(t);
    }
  }
  const got = { on: 0, off: 0 };
  const half = perSample / 2;
  for (const [server, from, turn] of [
    [pair.on, 0, 0],
    [pair.off, half, 1],
  ] as const) {
    // A phone asks for its URL before it downloads: minting is not timed.
    const urls: Record<Mode, string[][]> = { on: [], off: [] };
    for (const mode of ['on', 'off'] as const) {
      for (const k of keys[mode].slice(from, from + half)) {
        const mine: string[] = [];
        for (let d = 0; d < downloads; d++) mine.push(await downloadUrlOf(server.url, pair.receiver.token, k));
        urls[mode].push(mine);
      }
    }
    for (let d = 0; d < downloads; d++) {
      for (let i = 0; i < half; i++) {
        for (const mode of alternate(i + index + turn + d)) {
          const t = process.hrtime.bigint();
          await getCounting(urls[mode][i][d], size);
          got[mode] += elapsedMs(t);
        }
      }
    }
  }
  await stack.emptyBucket(GLIMPSE_BUCKET);
  const n = perSample * downloads;
  return { send: { on: sent.on / perSample, off: sent.off / perSample }, download: { on: got.on / n, off: got.off / n } };
}

/** on, off in even steps; off, on in odd ones: neither kind always goes first. */
function alternate(i: number): readonly Mode[] {
  return i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
}

function elapsedMs(t: bigint): number {
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function figure(size: number, perSample: number, plan: Plan, rounds: Round[][], pick: (r: Round) => Record<Mode, number>): OnOffFigure {
  // Throughput on ÷ off is time off ÷ time on.
  const ratioOf = (pairRounds: Round[][]) => median(pairRounds.flat().map((r) => pick(r).off / pick(r).on));
  const all = rounds.flat().map(pick);
  return {
    size,
    perSample,
    downloadsPerImage: plan.encryption.downloadsPerImage,
    pairs: plan.encryption.pairs,
    roundsPerPair: plan.encryption.roundsPerPair,
    onMs: median(all.map((r) => r.on)),
    offMs: median(all.map((r) => r.off)),
    ratio: ratioOf(rounds),
    interval: groupBootstrap(rounds, ratioOf),
    pairRatios: rounds.map((r) => ratioOf([r])),
    samples: { on: all.map((r) => r.on), off: all.map((r) => r.off) },
  };
}

/**
 * An encrypting instance and an ENCRYPTION=off one on one database, bucket and master key, with a
 * sender and a receiver. Which starts first (and so creates the database) alternates with `p`.
 */
async function startPair(stack: BenchStack, name: string, image: Buffer, p: number): Promise<Pair> {
  const shared = { ENCRYPTION_KEY: randomBytes(32).toString('base64'), S3_BUCKET: GLIMPSE_BUCKET };
  const env: Record<Mode, Record<string, string>> = { on: shared, off: { ...shared, ENCRYPTION: 'off' } };
  const [first, second] = p % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
  const started = { [first]: await stack.startGlimpse(`${name}-${first}`, env[first]) } as Record<Mode, GlimpseService>;
  started[second] = await stack.startGlimpse(`${name}-${second}`, { ...env[second], DATABASE_URL: started[first].databaseUrl });
  const sender = await register(started.on.url, 'fixed', 100);
  const receiver = await register(started.on.url, 'fixed', 0);
  return { on: started.on, off: started.off, receiver, body: prepareSendImage(sender.token, receiver.uid, image) };
}
