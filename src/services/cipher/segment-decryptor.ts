import { Transform, TransformCallback } from 'node:stream';
import { AeadContext, aeadContext, TAG_BYTES } from './segment-aead';
import { ImageKey, nonce, NONCE_BYTES, RELAY_BUFFER_BYTES, SEGMENT_BYTES, segmentCount } from './segment-format';

export interface DecryptorOptions {
  /**
   * Runs once before the last wanted bytes leave (or at the end, when there are none); they
   * leave only when it has succeeded, and its failure fails the stream. A download uses it to
   * use up its grant, so a client that has every byte finds the URL used up.
   */
  beforeLastBytes?: () => Promise<void>;
}

/**
 * Opens stored segments starting at `firstSegment` and passes on plaintext bytes `first..last`
 * (inclusive, offsets in the whole image). No byte of a segment leaves before its tag is
 * checked: a segment that fails makes the stream fail, so a download is cut short, never wrong.
 */
export class SegmentDecryptor extends Transform {
  private index: number;
  private readonly lastIndex: number;
  /** Plaintext offset (in the whole image) where the current segment starts. */
  private position: number;
  private readonly aead: AeadContext;
  private readonly n = Buffer.alloc(NONCE_BYTES);
  private beforeLastBytes: (() => Promise<void>) | null;
  /** Stored bytes of the current segment read so far. */
  private consumed = 0;
  /** The current segment's plaintext, held until its tag has been checked. */
  private held: Buffer[] = [];
  private tag: Buffer[] = [];

  constructor(
    private readonly k: ImageKey,
    private readonly plainSize: number,
    private readonly first = 0,
    private readonly last = plainSize - 1,
    private readonly segment = SEGMENT_BYTES,
    options: DecryptorOptions = {},
  ) {
    // Room for at least a whole segment on both sides: a segment's plaintext is released at once,
    // and the store's socket is read in large steps while the client's drains (as the relay of
    // an unencrypted blob does).
    const room = Math.max(RELAY_BUFFER_BYTES, segment + TAG_BYTES);
    super({ readableHighWaterMark: room, writableHighWaterMark: room });
    this.index = Math.floor(first / segment);
    this.lastIndex = segmentCount(plainSize, segment) - 1;
    this.position = this.index * segment;
    this.aead = aeadContext(k.key, false);
    this.beforeLastBytes = options.beforeLastBytes ?? null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      // Fed piece by piece as it arrives (no copy of the segment); only the plaintext waits for the tag.
      let at = 0;
      while (at < chunk.length && this.index <= this.lastIndex && this.position <= this.last) {
        const stored = this.storedLengthOf(this.index);
        if (this.consumed === 0) this.aead.start(this.nonceOf(this.index));
        const body = stored - TAG_BYTES;
        if (this.consumed < body) {
          const n = Math.min(body - this.consumed, chunk.length - at);
          const piece = n === chunk.length ? chunk : chunk.subarray(at, at + n);
          this.held.push(this.aead.update(piece));
          this.consumed += n;
          at += n;
          continue;
        }
        const n = Math.min(stored - this.consumed, chunk.length - at);
        this.tag.push(chunk.subarray(at, at + n));
        this.consumed += n;
        at += n;
        if (this.consumed !== stored) continue;
        if (!this.aead.checkTag(this.tagBytes())) throw new Error('Unsupported state or unable to authenticate data');
        const plain = this.advance(body);
        if (this.position > this.last && this.beforeLastBytes) return this.releaseLast(plain, done);
        for (const piece of plain) this.push(piece);
      }
    } catch (e) {
      return done(e as Error);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.position <= this.last) return done(new Error('sealed image is shorter than its size'));
    if (this.beforeLastBytes) return this.releaseLast([], done);
    done();
  }

  private releaseLast(plain: Buffer[], done: TransformCallback): void {
    const before = this.beforeLastBytes!;
    this.beforeLastBytes = null;
    before().then(() => {
      for (const piece of plain) this.push(piece);
      done();
    }, done);
  }

  private nonceOf(index: number): Buffer {
    return nonce(this.n, this.k.prefix, index, index === this.lastIndex);
  }

  private tagBytes(): Buffer {
    return this.tag.length === 1 ? this.tag[0] : Buffer.concat(this.tag);
  }

  private storedLengthOf(index: number): number {
    if (index < this.lastIndex) return this.segment + TAG_BYTES;
    return this.plainSize - this.lastIndex * this.segment + TAG_BYTES;
  }

  /** Moves past the current segment and returns the wanted slices of its held bytes. */
  private advance(body: number): Buffer[] {
    const from = Math.max(0, this.first - this.position);
    const to = Math.min(body, this.last + 1 - this.position);
    const wanted: Buffer[] = [];
    let offset = 0;
    for (const piece of this.held) {
      const a = Math.max(from - offset, 0);
      const b = Math.min(to - offset, piece.length);
      if (b > a) wanted.push(a === 0 && b === piece.length ? piece : piece.subarray(a, b));
      offset += piece.length;
    }
    this.position += body;
    this.index++;
    this.consumed = 0;
    this.held = [];
    this.tag = [];
    return wanted;
  }
}
