import { jpegBytes } from '../test/support/factories';
import { BenchUser, downloadUrlOf, prepareSendImage, sendImage } from './glimpse-api';
import { getCounting, median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { pairedRatio } from './report';
import { BenchStack, GLIMPSE_BUCKET, GlimpseService, PLAIN_BUCKET } from './stack';
import type { PlainUsers } from './upload.bench';

export interface OnOffFigure {
  size: number;
  /** Operations per sample (one client, one after another). */
  perSample: number;
  /** ms per operation, median over the samples. */
  onMs: number;
  offMs: number;
  /** Throughput on ÷ off: the crossover estimate over back-to-back pairs (report.ts pairedRatio). */
  ratio: number;
  samples: { on: number[]; off: number[] };
}

/**
 * Issue 10's comparison on its own: sendImage, then a complete download of a fresh downloadUrl,
 * on Glimpse with encryption at rest and on the same build with ENCRYPTION=off, one client at a
 * time. Many short rounds, each running the two modes back to back in alternating order, so a
 * difference of a few per cent is not lost in the machine's noise (the upload and download
 * sections show the same comparison beside their other variants, with fewer rounds).
 */
export async function benchEncryption(
  stack: BenchStack,
  plan: Plan,
  users: { sender: BenchUser; receiver: BenchUser },
  plain: PlainUsers,
  log: (s: string) => void,
): Promise<{ send: OnOffFigure[]; download: OnOffFigure[] }> {
  const send: OnOffFigure[] = [];
  const download: OnOffFigure[] = [];
  for (const size of plan.encryption.sizes) {
    const image = jpegBytes(size);
    const perSample = plan.encryption.perSample(size);
    const sides = {
      on: { server: stack.glimpse, bucket: GLIMPSE_BUCKET, receiver: users.receiver, body: prepareSendImage(users.sender.token, users.receiver.uid, image) },
      off: { server: stack.glimpsePlain, bucket: PLAIN_BUCKET, receiver: plain.receiver, body: prepareSendImage(plain.senders[0].token, plain.receiver.uid, image) },
    };
    const sendMs = { on: [] as number[], off: [] as number[] };
    const getMs = { on: [] as number[], off: [] as number[] };
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
        sendMs[mode].push(sent);
        getMs[mode].push(got);
      }
      await stack.emptyBucket(s.bucket);
    };
    if (plan.warmup) for (const mode of ['on', 'off'] as const) await once(mode, false);
    for (let r = 0; r < plan.encryption.rounds; r++) {
      // 'on' first in even rounds, 'off' first in odd ones: what pairedRatio expects.
      for (const mode of r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) await once(mode, true);
    }
    // Throughput ratio on ÷ off is time off ÷ time on.
    const figure = (ms: { on: number[]; off: number[] }): OnOffFigure => ({
      size,
      perSample,
      onMs: median(ms.on),
      offMs: median(ms.off),
      ratio: pairedRatio(ms.off, ms.on),
      samples: ms,
    });
    send.push(figure(sendMs));
    download.push(figure(getMs));
    log(`encryption ${size / MiB} MiB: sendImage on/off ${send.at(-1)!.ratio.toFixed(3)}, download on/off ${download.at(-1)!.ratio.toFixed(3)}`);
  }
  return { send, download };
}

async function mintAll(server: GlimpseService, receiver: BenchUser, keys: string[]): Promise<string[]> {
  const urls: string[] = [];
  for (const k of keys) urls.push(await downloadUrlOf(server.url, receiver.token, k));
  return urls;
}
