import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { assertSafeBlobName, BlobInfo, BlobNotFoundError, BlobStore, ByteRange } from './blob-store';

/**
 * Blobs as files under one folder, for the zero-setup start. A blob is written to a temporary
 * file and renamed into place only when complete, so a reader never sees half an image.
 */
export class LocalBlobStore implements BlobStore {
  readonly description: string;
  private readonly tmpDir: string;

  constructor(private readonly dir: string) {
    this.description = `local disk ${dir}`;
    this.tmpDir = path.join(dir, '.incoming');
  }

  async init(): Promise<void> {
    await fs.promises.mkdir(this.tmpDir, { recursive: true });
    // Leftovers of uploads cut short by a crash.
    for (const f of await fs.promises.readdir(this.tmpDir)) {
      await fs.promises.rm(path.join(this.tmpDir, f), { force: true });
    }
  }

  async ping(): Promise<void> {
    await fs.promises.access(this.dir, fs.constants.W_OK);
  }

  private fileOf(name: string): string {
    assertSafeBlobName(name);
    return path.join(this.dir, name.slice(0, 2), name);
  }

  async put(name: string, body: Readable, _opts: { size?: number; contentType: string }): Promise<void> {
    const final = this.fileOf(name);
    const tmp = path.join(this.tmpDir, `${name}.${randomBytes(6).toString('hex')}`);
    try {
      // pipeline would destroy `body` on failure; it is the caller's to drain, so pipe by hand.
      const out = fs.createWriteStream(tmp, { flags: 'wx' });
      await new Promise<void>((resolve, reject) => {
        body.once('error', (e) => {
          body.unpipe(out);
          out.destroy();
          reject(e);
        });
        out.once('error', (e) => {
          body.unpipe(out);
          reject(e);
        });
        out.once('finish', resolve);
        body.pipe(out);
      });
      await new Promise<void>((resolve, reject) => out.close((e) => (e ? reject(e) : resolve())));
      await fs.promises.mkdir(path.dirname(final), { recursive: true });
      await fs.promises.rename(tmp, final);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw e;
    }
  }

  async get(name: string, range?: ByteRange): Promise<Readable> {
    const file = this.fileOf(name);
    const handle = await fs.promises.open(file, 'r').catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT' ? new BlobNotFoundError(name) : e;
    });
    return range ? handle.createReadStream({ start: range.start, end: range.start + range.length - 1 }) : handle.createReadStream();
  }

  async delete(name: string): Promise<void> {
    await fs.promises.rm(this.fileOf(name), { force: true });
  }

  async *list(): AsyncIterable<BlobInfo> {
    // Folders are the names' first two characters, so folder order then file order is name order.
    const dirs = (await fs.promises.readdir(this.dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
    for (const d of dirs) {
      const names = (await fs.promises.readdir(path.join(this.dir, d))).sort();
      for (const name of names) {
        const stat = await fs.promises.stat(path.join(this.dir, d, name)).catch(() => null);
        if (stat) yield { name, modifiedAt: stat.mtime };
      }
    }
  }
}
