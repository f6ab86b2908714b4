import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');

export interface LocalS3 {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  directory: string;
  stop(): Promise<void>;
  /** Starts again on the same port and folder (for fault tests that stop the store mid-way). */
  restart(): Promise<void>;
}

/**
 * A real S3-protocol server on loopback (s3rver), with its files in a temporary folder. It does
 * not answer ListMultipartUploads; Glimpse does not ask it, but a middleware answers an empty
 * list so that tools which do (minio's own putObject) work too.
 */
export async function startLocalS3(port = 0): Promise<LocalS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-s3-'));
  let server: Server;
  let boundPort = port;
  let running = false;
  const start = async () => {
    if (running) return;
    const s3 = new S3rver({ address: '127.0.0.1', port: boundPort, silent: true, directory, allowMismatchedSignatures: false });
    s3.middleware.unshift(
      async (
        ctx: { method: string; query: Record<string, unknown>; path: string; status: number; type: string; body: string },
        next: () => Promise<void>,
      ) => {
        if (ctx.method === 'GET' && 'uploads' in ctx.query) {
          const bucket = ctx.path.split('/')[1];
          ctx.status = 200;
          ctx.type = 'application/xml';
          ctx.body = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${bucket}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`;
          return;
        }
        await next();
      },
    );
    const address = (await s3.run()) as AddressInfo;
    server = s3.httpServer as Server;
    boundPort = address.port;
    running = true;
  };
  await start();
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!running) return resolve();
      running = false;
      server.close(() => resolve());
      server.closeAllConnections?.();
    });
  return {
    get endpoint() {
      return `http://127.0.0.1:${boundPort}`;
    },
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    directory,
    stop,
    restart: start,
  };
}

// Run on its own (the benchmark starts it as a separate process): prints the endpoint.
if (require.main === module) {
  startLocalS3(Number(process.env.PORT ?? 0)).then((s3) => {
    process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint, directory: s3.directory })}\n`);
  });
}
