import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import type { S3Config } from '../config';
import { assertSafeBlobName, BlobInfo, BlobNotFoundError, BlobStore, ByteRange } from './blob-store';

/** S3's smallest multipart part: the most one upload of unknown size holds in memory. */
const PART_SIZE = 5 * 1024 * 1024;
/** A PUT that sends or receives nothing for this long is abandoned. */
const IDLE_TIMEOUT_MS = 30_000;
/**
 * How long an idle keep-alive socket to the S3 server is kept. Node honours the server's own
 * `Keep-Alive: timeout=N` (closing a second early) only when the agent has a timeout: without
 * one, a PUT could start on a socket the server had just closed and fail with ECONNRESET
 * (seen against s3rver under many concurrent large uploads).
 */
const FREE_SOCKET_TIMEOUT_MS = 15_000;
/** Bytes a socket to the store buffers before pushing back. */
const SOCKET_BUFFER_BYTES = 256 * 1024;
/** When to delete an abandoned PUT's object a second time. */
const ABANDONED_RECHECK_MS = 1_000;

/**
 * MinIO or any S3 server, through the minio client. Uploads of known size go as one presigned
 * PUT piped while the bytes arrive (minio's putObject would buffer and hash them first); uploads
 * of unknown size go as one PUT when they fit a part, else as a multipart upload we abort ourselves.
 */
export class S3BlobStore implements BlobStore {
  readonly description: string;
  private readonly client: Minio.Client;
  private readonly agent: http.Agent;

  constructor(private readonly cfg: S3Config) {
    // 256 KiB of socket buffer, as the server's own sockets have: with Node's 16 KiB, each sealed
    // segment's 16-byte tag waited for the socket to drain and went out in a system call of its
    // own. The agent hands its options to the socket it
    // creates; @types/node does not list this one.
    const options: http.AgentOptions & { highWaterMark: number } = {
      keepAlive: true,
      maxSockets: 256,
      timeout: FREE_SOCKET_TIMEOUT_MS,
      highWaterMark: SOCKET_BUFFER_BYTES,
    };
    this.agent = new (cfg.useSSL ? https.Agent : http.Agent)(options);
    // With the region configured, presigning is a local HMAC: no bucket-location round trip.
    this.client = new Minio.Client({
      endPoint: cfg.endPoint,
      port: cfg.port,
      useSSL: cfg.useSSL,
      accessKey: cfg.accessKey,
      secretKey: cfg.secretKey,
      region: cfg.region,
      partSize: PART_SIZE,
      transportAgent: this.agent,
    });
    this.description = `S3 ${cfg.useSSL ? 'https' : 'http'}://${cfg.endPoint}:${cfg.port}/${cfg.bucket}`;
  }

  async init(): Promise<void> {
    const exists = await this.client.bucketExists(this.cfg.bucket);
    if (exists) return;
    try {
      await this.client.makeBucket(this.cfg.bucket, this.cfg.region);
    } catch (e) {
      // Another instance created it between our check and our call.
      const code = (e as { code?: string }).code;
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw e;
    }
  }

  async ping(): Promise<void> {
    if (!(await this.client.bucketExists(this.cfg.bucket))) throw new Error(`bucket ${this.cfg.bucket} is missing`);
  }

  async put(name: string, body: Readable, opts: { size?: number; contentType: string }): Promise<void> {
    assertSafeBlobName(name);
    if (opts.size !== undefined) return this.putStreaming(name, body, opts.size, opts.contentType);
    // Unknown size: gather up to one part; most images fit and go as a single PUT.
    const source = body[Symbol.asyncIterator]();
    const first = await gather(source, PART_SIZE);
    if (first.done) return this.putBuffer(name, first.buffer, opts.contentType);
    return this.putMultipart(name, first.buffer, source, opts.contentType);
  }

  private async putBuffer(name: string, data: Buffer, contentType: string): Promise<void> {
    const url = await this.client.presignedUrl('PUT', this.cfg.bucket, name, 600);
    await this.request(url, { 'Content-Length': String(data.length), 'Content-Type': contentType }, (req) => req.end(data));
  }

  private async putStreaming(name: string, body: Readable, size: number, contentType: string): Promise<void> {
    const url = await this.client.presignedUrl('PUT', this.cfg.bucket, name, 600);
    try {
      await this.request(url, { 'Content-Length': String(size), 'Content-Type': contentType }, (req, fail) => {
        body.once('error', fail);
        body.pipe(req);
      });
    } catch (e) {
      body.unpipe();
      this.removeAbandoned(name);
      throw e;
    }
  }

  private async putMultipart(name: string, first: Buffer, rest: AsyncIterator<unknown>, contentType: string) {
    const bucketName = this.cfg.bucket;
    const uploadID = await this.client.initiateNewMultipartUpload(bucketName, name, { 'Content-Type': contentType });
    try {
      const etags: { part: number; etag: string }[] = [];
      let part = first;
      let done = false;
      for (let partNumber = 1; part.length > 0; partNumber++) {
        const up = await this.client.uploadPart(
          { bucketName, objectName: name, uploadID, partNumber, headers: { 'Content-Length': part.length } },
          part,
        );
        etags.push({ part: partNumber, etag: up.etag });
        if (done) break;
        // The iterator pauses the source while a part uploads, so memory stays at one part.
        ({ buffer: part, done } = await gather(rest, PART_SIZE));
      }
      await this.client.completeMultipartUpload(bucketName, name, uploadID, etags);
    } catch (e) {
      // minio's own putObject would leave the multipart upload behind when the source errors.
      await this.client.abortMultipartUpload(bucketName, name, uploadID).catch(() => undefined);
      throw e;
    }
  }

  /**
   * S3 and MinIO drop a PUT cut short, but some S3-compatible servers (s3rver among them) keep
   * what arrived, and only some time after the connection closed: delete now and once more later.
   */
  private removeAbandoned(name: string): void {
    void this.delete(name).catch(() => undefined);
    setTimeout(() => void this.delete(name).catch(() => undefined), ABANDONED_RECHECK_MS).unref();
  }

  /** One HTTP request to a presigned URL; `send` writes the body and may call `fail`. */
  private request(
    url: string,
    headers: Record<string, string>,
    send: (req: http.ClientRequest, fail: (e: Error) => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const lib = url.startsWith('https:') ? https : http;
      const req = lib.request(url, { method: 'PUT', headers, agent: this.agent });
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        req.destroy(e);
        // Settle once the connection is gone, so that no byte of it can land after we return.
        if (req.socket && !req.socket.destroyed) req.socket.once('close', () => reject(e));
        else reject(e);
      };
      req.setTimeout(IDLE_TIMEOUT_MS, () => fail(new Error('S3 PUT timed out')));
      req.on('error', fail);
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.once('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            settled = true;
            resolve();
          } else {
            fail(new Error(`S3 PUT answered ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`));
          }
        });
      });
      send(req, fail);
    });
  }

  async get(name: string, range?: ByteRange): Promise<Readable> {
    assertSafeBlobName(name);
    try {
      if (range) return await this.client.getPartialObject(this.cfg.bucket, name, range.start, range.length);
      return await this.client.getObject(this.cfg.bucket, name);
    } catch (e) {
      if ((e as { code?: string }).code === 'NoSuchKey') throw new BlobNotFoundError(name);
      throw e;
    }
  }

  async delete(name: string): Promise<void> {
    assertSafeBlobName(name);
    try {
      await this.client.removeObject(this.cfg.bucket, name);
    } catch (e) {
      if ((e as { code?: string }).code !== 'NoSuchKey') throw e;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    // S3 lists keys in ascending UTF-8 order, a page at a time.
    for await (const o of this.client.listObjectsV2(this.cfg.bucket, '', true)) {
      const item = o as { name?: string; lastModified?: Date };
      if (item.name) yield { name: item.name, modifiedAt: item.lastModified ?? new Date(0) };
    }
  }
}

/** Reads from `source` until `limit` bytes are held or it ends. */
async function gather(source: AsyncIterator<unknown>, limit: number): Promise<{ buffer: Buffer; done: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < limit) {
    const next = await source.next();
    if (next.done) return { buffer: Buffer.concat(chunks, length), done: true };
    const chunk = next.value as Buffer;
    chunks.push(chunk);
    length += chunk.length;
  }
  return { buffer: Buffer.concat(chunks, length), done: false };
}
