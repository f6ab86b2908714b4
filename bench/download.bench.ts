import type { Readable } from 'node:stream';
import { jpegBytes } from '../test/support/factories';
import { BenchUser, downloadUrlOf, prepareSendImage, sendImage } from './glimpse-api';
import { getCounting, timed } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { BenchStack, GLIMPSE_BUCKET } from './stack';
import { roundOrder } from './order';
import { context, fmtCell, medians, PlainUsers, ThroughputCell } from './upload.bench';

type DownloadVariant = 'downloadUrl' | 'downloadUrlPlain' | 'direct' | 'rawGet';
const VARIANTS: DownloadVariant[] = ['downloadUrl', 'downloadUrlPlain', 'direct', 'rawGet'];

/**
 * Download throughput of a downloadUrl (a plain GET that Glimpse serves by streaming the blob
 * from S3) beside the same object read straight from the S3 server with minio's getObject, and
 * with one raw presigned GET; and beside a downloadUrl of the same build with encryption at rest
 * off (`downloadUrlPlain`: no decryption).
 */
export async function benchDownloads(
  stack: BenchStack,
  plan: Plan,
  sender: BenchUser,
  receiver: BenchUser,
  plain: PlainUsers,
  log: (s: string) => void,
): Promise<ThroughputCell[]> {
  const cells: ThroughputCell[] = [];
  for (const size of plan.download.sizes) {
    const image = jpegBytes(size);
    const messageKey = await sendImage(stack.glimpse.url, prepareSendImage(sender.token, receiver.uid, image), size);
    const plainKey = await sendImage(stack.glimpsePlain.url, prepareSendImage(plain.senders[0].token, plain.receiver.uid, image), size);
    const rawUrl = await stack.s3.client.presignedUrl('GET', GLIMPSE_BUCKET, messageKey, 3600);
    // The store holds the encrypted image: 16 bytes more per segment than the image itself.
    const stored = (await stack.s3.client.statObject(GLIMPSE_BUCKET, messageKey)).size;
    // A downloadUrl serves one complete download: each timed GET gets a URL minted beforehand,
    // as a phone gets one from its `image` query before it downloads.
    const urls: Record<'downloadUrl' | 'downloadUrlPlain', string[]> = { downloadUrl: [], downloadUrlPlain: [] };
    const mint = async (n: number) => {
      for (const v of ['downloadUrl', 'downloadUrlPlain'] as const) {
        urls[v] = [];
        for (let i = 0; i < n; i++) {
          urls[v].push(
            await (v === 'downloadUrl'
              ? downloadUrlOf(stack.glimpse.url, receiver.token, messageKey)
              : downloadUrlOf(stack.glimpsePlain.url, plain.receiver.token, plainKey)),
          );
        }
      }
    };
    const run: Record<DownloadVariant, () => Promise<void>> = {
      downloadUrl: () => getCounting(urls.downloadUrl.pop()!, size),
      downloadUrlPlain: () => getCounting(urls.downloadUrlPlain.pop()!, size),
      direct: async () => consume(await stack.s3.client.getObject(GLIMPSE_BUCKET, messageKey), stored),
      rawGet: () => getCounting(rawUrl, stored),
    };
    for (const clients of plan.download.clients) {
      const perClient = plan.download.perClient(size, clients);
      if (plan.warmup) {
        await mint(clients);
        for (const v of VARIANTS) await timed(clients, 1, () => run[v]());
      }
      const samples: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
      for (let r = 0; r < plan.rounds; r++) {
        for (const v of roundOrder<DownloadVariant>(VARIANTS, r, ['downloadUrl', 'downloadUrlPlain'])) {
          // Both servers' URLs are minted together, before whichever of the two goes first this round.
          if ((v === 'downloadUrl' || v === 'downloadUrlPlain') && urls[v].length === 0) await mint(clients * perClient);
          const ms = await timed(clients, perClient, () => run[v]().catch((e) => Promise.reject(context(e, v, size, clients))));
          samples[v].push((clients * perClient * size) / MiB / (ms / 1000));
        }
      }
      const cell: ThroughputCell = { size, clients, perClient, mibps: medians(samples), samples };
      log(`download ${size / MiB} MiB × ${clients} clients: ${fmtCell(cell)}`);
      cells.push(cell);
    }
  }
  return cells;
}

async function consume(stream: Readable, expected: number): Promise<void> {
  let n = 0;
  for await (const c of stream) n += (c as Buffer).length;
  if (n !== expected) throw new Error(`getObject gave ${n} bytes, expected ${expected}`);
}
