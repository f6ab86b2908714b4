import { createHash, Hash } from 'node:crypto';
import { Transform, TransformCallback } from 'node:stream';
import { BadInputError, PayloadTooLargeError } from '../errors';

/**
 * Passes an upload through unchanged while counting and hashing it, and fails the stream the
 * moment it grows past the limit or past the size the client declared, so that the store aborts
 * its write before the rest arrives.
 */
export class ImageMeter extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');

  constructor(
    private readonly maxBytes: number,
    private readonly declaredSize?: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return done(new PayloadTooLargeError(this.maxBytes));
    if (this.declaredSize !== undefined && this.bytes > this.declaredSize) return done(sizeMismatch(this.declaredSize));
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.declaredSize !== undefined && this.bytes !== this.declaredSize) return done(sizeMismatch(this.declaredSize));
    done();
  }

  /** Hex SHA-256 of everything that passed; call once the stream has ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

function sizeMismatch(declared: number): BadInputError {
  return new BadInputError(`The image's bytes do not match the declared size of ${declared} bytes`, 'size');
}
