import { randomBytes } from 'node:crypto';
import busboy from 'busboy';
import express from 'express';
import * as Minio from 'minio';

/**
 * The baseline: the upload handler an engineer would write without GraphQL. express + busboy
 * hand the file stream to minio's putObject with the size the client declared (a `size` field
 * before the file, as sendImage's `size`). No auth, no database, no type sniffing, no hash.
 * Runs as its own process, like Glimpse.
 */
// The bench's own baseline process reads its settings here; Glimpse reads config only in src/config.ts.
const env = process.env;
const endpoint = new URL(env.S3_ENDPOINT ?? 'http://127.0.0.1:9000');
const bucket = env.S3_BUCKET ?? 'bench-bare';
const client = new Minio.Client({
  endPoint: endpoint.hostname,
  port: Number(endpoint.port),
  useSSL: false,
  accessKey: env.S3_ACCESS_KEY ?? 'S3RVER',
  secretKey: env.S3_SECRET_KEY ?? 'S3RVER',
  region: 'us-east-1',
});

const app = express();
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post('/upload', (req, res) => {
  const bb = busboy({ headers: req.headers });
  let size: number | undefined;
  let stored: Promise<unknown> | undefined;
  bb.on('field', (name, value) => {
    if (name === 'size') size = Number(value);
  });
  bb.on('file', (_name, file, info) => {
    const key = randomBytes(16).toString('hex');
    stored = client.putObject(bucket, key, file, size, { 'Content-Type': info.mimeType }).then(() => ({ key, size }));
  });
  bb.once('close', () => {
    if (!stored) {
      res.status(400).json({ error: 'no file' });
      return;
    }
    stored.then(
      (r) => res.json(r),
      (e: Error) => res.status(500).json({ error: e.message }),
    );
  });
  req.pipe(bb);
});

async function main() {
  if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket, 'us-east-1');
  const server = app.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
