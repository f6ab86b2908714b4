import { Transform, TransformCallback } from 'node:stream';
import { AeadContext, aeadContext, TAG_BYTES } from './segment-aead';
import { ImageKey, nonce, NONCE_BYTES, SEGMENT_BYTES, segmentCount } from './segment-format';

/**
 * Seals a plaintext stream segment by segment. A segment's nonce says whether it is the last,
 * so the encryptor must know that when the segment starts: with the image's size declared it
 * does, and every chunk's ciphertext leaves at once (only the tag waits for the segment's end);
 * without it, a segment is held until a byte past it arrives or the stream ends.
 */
export class SegmentEncryptor extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  private readonly aead: AeadContext;
  private readonly n = Buffer.alloc(NONCE_BYTES);
  /** Streaming (size declared): whether the current segment has started, and how much of it went through. */
  private open = false;
  private done = 0;
  private readonly lastIndex: number;

  constructor(
    private readonly k: ImageKey,
    private readonly segment = SEGMENT_BYTES,
    private readonly plainSize?: number,
  ) {
    // A whole sealed segment fits the readable buffer: the store's side is not paused mid-segment.
    super({ readableHighWaterMark: segment + TAG_BYTES });
    this.aead = aeadContext(k.key, true);
    this.lastIndex = plainSize === undefined ? -1 : segmentCount(plainSize, segment) - 1;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.plainSize !== undefined) return done(this.stream(chunk));
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // A segment is sealed only once a byte past it has arrived: only then is it known not to be the last.
    while (this.pendingBytes > this.segment) this.seal(this.segment, false);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.plainSize !== undefined) {
      // An empty image is one empty segment: its tag still has to be written.
      if (this.plainSize === 0 && this.index === 0) this.seal(0, true);
      return done(this.index > this.lastIndex ? null : new Error('the image is shorter than its declared size'));
    }
    if (this.pendingBytes > 0 || this.index === 0) this.seal(this.pendingBytes, true);
    done();
  }

  private stream(chunk: Buffer): Error | null {
    let at = 0;
    while (at < chunk.length) {
      if (this.index > this.lastIndex) return new Error('the image is longer than its declared size');
      if (!this.open) {
        this.aead.start(nonce(this.n, this.k.prefix, this.index, this.index === this.lastIndex));
        this.open = true;
      }
      const length = this.index < this.lastIndex ? this.segment : this.plainSize! - this.lastIndex * this.segment;
      const n = Math.min(length - this.done, chunk.length - at);
      if (n > 0) this.push(this.aead.update(n === chunk.length ? chunk : chunk.subarray(at, at + n)));
      at += n;
      this.done += n;
      if (this.done === length) {
        this.push(this.aead.sealTag());
        this.open = false;
        this.done = 0;
        this.index++;
      }
    }
    return null;
  }

  private seal(length: number, last: boolean): void {
    this.aead.start(nonce(this.n, this.k.prefix, this.index++, last));
    let left = length;
    while (left > 0) {
      const head = this.pending[0];
      const piece = head.length <= left ? head : head.subarray(0, left);
      if (piece === head) this.pending.shift();
      else this.pending[0] = head.subarray(left);
      left -= piece.length;
      this.pendingBytes -= piece.length;
      this.push(this.aead.update(piece));
    }
    this.push(this.aead.sealTag());
  }
}
