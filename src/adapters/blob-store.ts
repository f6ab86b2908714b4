import type { Readable } from 'node:stream';

/**
 * The storage contract every blob store keeps (S3/MinIO, local disk).
 *
 * - `put` resolves only once the store holds exactly the bytes of `body` under `name`. When
 *   `body` errors (the caller aborts: too large, wrong size, client gone) or the store fails, it
 *   rejects and leaves no object and no half-finished upload behind. It never holds the whole
 *   body in memory: with `size` it streams into one request; without, in bounded parts.
 *   It does not drain `body` after a failure: the caller owns the source.
 * - `get` streams a stored blob (or `range.length` bytes of it from `range.start`), or rejects
 *   with BlobNotFoundError.
 * - `delete` removes a blob; one already gone is not an error.
 * - `list` yields every blob in the store, sorted by name, a page at a time.
 * - Names are chosen by the caller from [A-Za-z0-9._-] only.
 */
export interface BlobStore {
  /** For start-up logs: what backs this store. */
  readonly description: string;
  /** Creates the bucket or folder when missing. */
  init(): Promise<void>;
  put(name: string, body: Readable, opts: { size?: number; contentType: string }): Promise<void>;
  get(name: string, range?: ByteRange): Promise<Readable>;
  delete(name: string): Promise<void>;
  /** Rejects when the store cannot be reached (readiness checks). */
  ping(): Promise<void>;
  /** Every stored blob, in ascending order of name (the orphan collector merges it with the database). */
  list(): AsyncIterable<BlobInfo>;
}

export interface ByteRange {
  start: number;
  length: number;
}

export interface BlobInfo {
  name: string;
  modifiedAt: Date;
}

export class BlobNotFoundError extends Error {
  constructor(name: string) {
    super(`blob ${name} not found`);
    this.name = 'BlobNotFoundError';
  }
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertSafeBlobName(name: string): void {
  if (!SAFE_NAME.test(name)) throw new Error(`unsafe blob name: ${JSON.stringify(name)}`);
}
