import { randomBytes } from 'node:crypto';
import { jpegBytes } from '../test/support/factories';
import { BenchUser, prepareSendImage, PreparedUpload, sendImage } from './glimpse-api';
import { median, request, timed } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { BARE_BUCKET, BenchStack, DIRECT_BUCKET, GLIMPSE_BUCKET, PLAIN_BUCKET } from './stack';
import { roundOrder } from './order';

export type UploadVariant = 'sendImage' | 'sendImagePlain' | 'direct' | 'rawPut' | 'bare';
const VARIANTS: UploadVariant[] = ['sendImage', 'sendImagePlain', 'direct', 'rawPut', 'bare'];

/** The same users on the ENCRYPTION=off server: its senders and receiver. */
export interface PlainUsers {
  senders: BenchUser[];
  receiver: BenchUser;
}

export interface ThroughputCell {
  size: number;
  clients: number;
  perClient: number;
  /** MiB/s per variant: median over the rounds. */
  mibps: Record<string, number>;
  /** Every round's MiB/s, per variant, for the record. */
  samples: Record<string, number[]>;
}

/**
 * Upload throughput of sendImage over HTTP beside the same bytes put straight into the same S3
 * server: with minio's putObject (what the SDK does), as one raw presigned PUT (the byte-moving
 * ceiling), and through the bare express + busboy → minio handler; and beside sendImage on the
 * same build with encryption at rest off (`sendImagePlain`). Bodies are built before the
 * clock starts; variants take turns within each round so that noise hits them alike.
 */
export async function benchUploads(
  stack: BenchStack,
  plan: Plan,
  senders: BenchUser[],
  receiver: BenchUser,
  plain: PlainUsers,
  log: (s: string) => void,
): Promise<ThroughputCell[]> {
  const cells: ThroughputCell[] = [];
  for (const size of plan.upload.sizes) {
    // Each client its own bytes, so that no layer can get away with caching one buffer.
    const images = Array.from({ length: Math.max(...plan.upload.clients) }, () => jpegBytes(size));
    const glimpseBodies = images.map((img, c) => prepareSendImage(senders[c % senders.length].token, receiver.uid, img));
    const plainBodies = images.map((img, c) => prepareSendImage(plain.senders[c % plain.senders.length].token, plain.receiver.uid, img));
    const bareBodies = images.map((img) => bareBody(img));
    for (const clients of plan.upload.clients) {
      const perClient = plan.upload.perClient(size, clients);
      const run = makeRunners(stack, size, images, glimpseBodies, plainBodies, bareBodies);
      // One untimed round per variant: connections, JIT and buckets warm.
      if (plan.warmup) for (const v of VARIANTS) await timed(clients, 1, (c) => run[v](c));
      await emptyAll(stack);
      const samples: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
      for (let r = 0; r < plan.rounds; r++) {
        for (const v of roundOrder<UploadVariant>(VARIANTS, r, ['sendImage', 'sendImagePlain'])) {
          const ms = await timed(clients, perClient, (c) => run[v](c).catch((e) => Promise.reject(context(e, v, size, clients))));
          samples[v].push((clients * perClient * size) / MiB / (ms / 1000));
          await emptyAll(stack);
        }
      }
      const cell: ThroughputCell = { size, clients, perClient, mibps: medians(samples), samples };
      log(`upload ${size / MiB} MiB × ${clients} clients: ${fmtCell(cell)}`);
      cells.push(cell);
    }
  }
  return cells;
}

function makeRunners(
  stack: BenchStack,
  size: number,
  images: Buffer[],
  glimpse: PreparedUpload[],
  plain: PreparedUpload[],
  bare: PreparedUpload[],
) {
  const name = () => randomBytes(16).toString('hex');
  return {
    sendImage: async (c: number) => void (await sendImage(stack.glimpse.url, glimpse[c], size)),
    sendImagePlain: async (c: number) => void (await sendImage(stack.glimpsePlain.url, plain[c], size)),
    direct: async (c: number) =>
      void (await stack.s3.client.putObject(DIRECT_BUCKET, name(), images[c], size, { 'Content-Type': 'image/jpeg' })),
    rawPut: async (c: number) => {
      const url = await stack.s3.client.presignedUrl('PUT', DIRECT_BUCKET, name(), 600);
      const res = await request(url, 'PUT', { 'content-type': 'image/jpeg' }, images[c]);
      if (res.status !== 200) throw new Error(`raw PUT answered ${res.status}`);
    },
    bare: async (c: number) => {
      const res = await request(`${stack.bareUpload.url}/upload`, 'POST', bare[c].headers, bare[c].body);
      if (res.status !== 200) throw new Error(`bare upload answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
    },
  } satisfies Record<UploadVariant, (c: number) => Promise<void>>;
}

/** The bare handler's request: a `size` field, then the file, as a plain multipart form. */
function bareBody(image: Buffer): PreparedUpload {
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="size"\r\n\r\n${image.length}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="image.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head), image, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

async function emptyAll(stack: BenchStack) {
  for (const b of [GLIMPSE_BUCKET, PLAIN_BUCKET, DIRECT_BUCKET, BARE_BUCKET]) await stack.emptyBucket(b);
}

/** Names the variant and cell a failure happened in. */
export function context(e: Error, variant: string, size: number, clients: number): Error {
  return new Error(`${variant} (${size / MiB} MiB × ${clients} clients): ${e?.message ?? e}`, { cause: e });
}

export function medians(samples: Record<string, number[]>): Record<string, number> {
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

export function fmtCell(cell: ThroughputCell): string {
  return Object.entries(cell.mibps)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
}
