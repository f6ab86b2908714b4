import { jpegBytes } from '../test/support/factories';
import { BenchUser, downloadUrlOf, PreparedUpload, prepareSendImage, register, sendImage } from './glimpse-api';
import { getCounting, median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { pairedRatio } from './report';
import { BenchStack, GLIMPSE_BUCKET, GlimpseService, PLAIN_BUCKET } from './stack';

export interface OnOffFigure {
  size: number;
  /** Operations per sample (one client, one after another). */
  perSample: number;
  /** Fresh server pairs the samples come from, and rounds on each. */
  pairs: number;
  roundsPerPair: number;
  /** ms per operation, median over all samples. */
  onMs: number;
  offMs: number;
  /** Throughput on ÷ off: the crossover estimate over all back-to-back pairs of samples (report.ts pairedRatio). */
  ratio: number;
  /** The same estimate on each server pair alone: how far one pair of processes can be from the rest. */
  pairRatios: number[];
  samples: { on: number[]; off: number[] };
}

interface Side {
  server: GlimpseService;
  bucket: string;
  receiver: BenchUser;
  body: PreparedUpload;
}

/**
 * Issue 10's comparison on its own: sendImage, then a complete download of a fresh downloadUrl,
 * on Glimpse with encryption at rest and on the same build with ENCRYPTION=off, one client at a
 * time, each round running the two back to back in alternating order.
 *
 * Two processes of one build, configured alike, were measured 10–40 % apart when run this way
 * (bench/README.md): V8 settles each process into its own garbage-collection rhythm (one doing
 * a full mark-compact every ~100 ms under the load, another only scavenges), which no flag
 * tried made the same for all. So the samples come from several fresh pairs of servers, each
 * warmed alike, and the ratio pools them; `pairRatios` shows the spread.
 */
export async function benchEncryption(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<{ send: OnOffFigure[]; download: OnOffFigure[] }> {
  const send: OnOffFigure[] = [];
  const download: OnOffFigure[] = [];
  const { pairs, roundsPerPair } = plan.encryption;
  for (const size of plan.encryption.sizes) {
    const image = jpegBytes(size);
    const perSample = plan.encryption.perSample(size);
    const sendMs = { on: [] as number[], off: [] as number[] };
    const getMs = { on: [] as number[], off: [] as number[] };
    const pairSend: number[] = [];
    const pairGet: number[] = [];
    let round = 0;
    for (let p = 0; p < pairs; p++) {
      const sides = {
        on: await startSide(stack, `glimpse-enc-${size / MiB}m-on-${p}`, {}, GLIMPSE_BUCKET, image),
        off: await startSide(stack, `glimpse-enc-${size / MiB}m-off-${p}`, { ENCRYPTION: 'off', S3_BUCKET: PLAIN_BUCKET }, PLAIN_BUCKET, image),
      };
      const mine = { send: { on: [] as number[], off: [] as number[] }, get: { on: [] as number[], off: [] as number[] } };
      const once = async (mode: 'on' | 'off', record: boolean) => {
        const s = sides[mode];
        const keys: string[] = [];
        let t = process.hrtime.bigint();
        for (let i = 0; i < perSample; i++) keys.push(await sendImage(s.server.url, s.body, size));
        const sent = Number(process.hrtime.bigint() - t) / 1e6 / perSample;
        // A phone asks for its URL before it downloads: minting is not timed.
        const urls = await mintAll(s.server, s.receiver, keys);
        t = process.hrtime.bigint();
        for (const url of urls) await getCounting(url, size);
        const got = Number(process.hrtime.bigint() - t) / 1e6 / perSample;
        if (record) {
          mine.send[mode].push(sent);
          mine.get[mode].push(got);
        }
        await stack.emptyBucket(s.bucket);
      };
      try {
        if (plan.warmup) for (const mode of ['on', 'off'] as const) await once(mode, false);
        for (let r = 0; r < roundsPerPair; r++, round++) {
          // 'on' first in even rounds (counted over all pairs), 'off' first in odd ones: what pairedRatio expects.
          for (const mode of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) await once(mode, true);
        }
      } finally {
        await sides.on.server.stop();
        await sides.off.server.stop();
      }
      for (const mode of ['on', 'off'] as const) {
        sendMs[mode].push(...mine.send[mode]);
        getMs[mode].push(...mine.get[mode]);
      }
      // A pair's own rounds start on an even or odd round: pairedRatio wants 'on' first at index 0.
      const flip = (xs: number[]) => (round - roundsPerPair) % 2 === 0 ? xs : xs.slice(1);
      pairSend.push(pairedRatio(flip(mine.send.off), flip(mine.send.on)));
      pairGet.push(pairedRatio(flip(mine.get.off), flip(mine.get.on)));
    }
    // Throughput ratio on ÷ off is time off ÷ time on.
    const figure = (ms: { on: number[]; off: number[] }, pairRatios: number[]): OnOffFigure => ({
      size,
      perSample,
      pairs,
      roundsPerPair,
      onMs: median(ms.on),
      offMs: median(ms.off),
      ratio: pairedRatio(ms.off, ms.on),
      pairRatios,
      samples: ms,
    });
    send.push(figure(sendMs, pairSend));
    download.push(figure(getMs, pairGet));
    const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    log(
      `encryption ${size / MiB} MiB (${pairs} server pairs): sendImage on/off ${send.at(-1)!.ratio.toFixed(3)} (pairs ${spread(pairSend)}), ` +
        `download on/off ${download.at(-1)!.ratio.toFixed(3)} (pairs ${spread(pairGet)})`,
    );
  }
  return { send, download };
}

/** A fresh Glimpse with a sender and a receiver of its own. */
async function startSide(stack: BenchStack, name: string, env: Record<string, string>, bucket: string, image: Buffer): Promise<Side> {
  const server = await stack.startGlimpse(name, env);
  const sender = await register(server.url, 'fixed', 100);
  const receiver = await register(server.url, 'fixed', 0);
  return { server, bucket, receiver, body: prepareSendImage(sender.token, receiver.uid, image) };
}

async function mintAll(server: GlimpseService, receiver: BenchUser, keys: string[]): Promise<string[]> {
  const urls: string[] = [];
  for (const k of keys) urls.push(await downloadUrlOf(server.url, receiver.token, k));
  return urls;
}
