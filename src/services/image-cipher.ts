import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { Transform, TransformCallback } from 'node:stream';
import { AeadContext, aeadContext, TAG_BYTES } from './segment-aead';

/**
 * Encryption at rest, one random key per image (docs/architecture.md, "Encryption at rest").
 *
 * A blob is the image cut into segments (the last one shorter), each sealed on its own with
 * AES-256-GCM and followed by its 16-byte tag. A segment's nonce is the image's 7-byte prefix,
 * the segment's number (32 bits) and one byte that is 1 for the last segment only (the STREAM
 * construction), so segments can neither be reordered nor the blob cut short without a tag
 * failing, and a download can start at any segment.
 *
 * Each image records its cipher by name, and the name fixes the segment size, so the size can
 * change for new images while older blobs stay readable.
 */
const PREFIX_BYTES = 7;
const NONCE_BYTES = 12;
const KEY_BYTES = 32;

/** Segment size of each cipher name an image may record; names no longer written stay readable. */
const SEGMENT_SIZES: Record<string, number> = {
  'aes256gcm-64k': 64 * 1024,
  'aes256gcm-256k': 256 * 1024,
};

/**
 * The cipher every new image is sealed with. A download releases nothing of a segment before its
 * tag is checked, so a segment is paid in latency and held memory per download; each segment also
 * costs a node:crypto cipher object. docs/performance.md has the measurement behind the choice.
 */
export const NEW_IMAGE_CIPHER = 'aes256gcm-64k';

/** The default segment size of the stream classes below (callers pass the image's own). */
export const SEGMENT_BYTES = SEGMENT_SIZES[NEW_IMAGE_CIPHER];

/** The segment size a recorded cipher name stands for; throws for a name this build cannot read. */
export function segmentBytesOf(cipher: string): number {
  const bytes = SEGMENT_SIZES[cipher];
  if (!bytes) throw new Error(`unknown image cipher ${cipher}`);
  return bytes;
}

export interface ImageKey {
  key: Buffer;
  prefix: Buffer;
}

export function newImageKey(): ImageKey {
  return { key: randomBytes(KEY_BYTES), prefix: randomBytes(PREFIX_BYTES) };
}

export function segmentCount(plainSize: number, segment = SEGMENT_BYTES): number {
  return Math.max(1, Math.ceil(plainSize / segment));
}

/** The stored length follows from the image's size, so the store can take one PUT of known length. */
export function sealedSize(plainSize: number, segment = SEGMENT_BYTES): number {
  return plainSize + segmentCount(plainSize, segment) * TAG_BYTES;
}

/** Writes a segment's nonce into `n` (each stream reuses its own: node:crypto copies it). */
function nonce(n: Buffer, prefix: Buffer, index: number, last: boolean): Buffer {
  prefix.copy(n, 0);
  n.writeUInt32BE(index, PREFIX_BYTES);
  n[11] = last ? 1 : 0;
  return n;
}

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

/** Which plaintext bytes to return, and where in the blob to start reading for them. */
export interface SealedRange {
  /** First stored byte to read (the start of the segment holding `start`). */
  storedStart: number;
  /** Stored bytes to read: whole segments up to the one holding `end`. */
  storedLength: number;
  firstSegment: number;
}

/** Maps a plaintext byte range (inclusive) onto whole stored segments. */
export function sealedRange(plainSize: number, start: number, end: number, segment = SEGMENT_BYTES): SealedRange {
  const firstSegment = Math.floor(start / segment);
  const lastSegment = Math.floor(end / segment);
  const storedStart = firstSegment * (segment + TAG_BYTES);
  const storedEnd = Math.min(sealedSize(plainSize, segment), (lastSegment + 1) * (segment + TAG_BYTES));
  return { storedStart, storedLength: storedEnd - storedStart, firstSegment };
}

/** What a download buffers between the store and the client, encrypted or not. */
export const RELAY_BUFFER_BYTES = 256 * 1024;

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

/** Characters of a master key's check value that name it in the rows it wraps (its key id). */
const KEY_ID_CHARS = 16;

/**
 * Names a master key without revealing anything of it: the start of an HMAC of a fixed label.
 * The whole HMAC is the check value earlier versions kept in server_secret.
 */
export function masterKeyId(master: Buffer): string {
  return createHmac('sha256', master).update('glimpse-master-key-check-v1').digest('base64url').slice(0, KEY_ID_CHARS);
}

/**
 * The master key (ENCRYPTION_KEY) and, during a rotation, the previous one: wraps each image's
 * key and the server's own secrets for the database. Every wrap is stored with the id of the
 * master key that made it, so that a rotation can find the rows still under the previous key
 * and wrap them again under the current one.
 */
export class KeyWrapper {
  /** The current master key's id: every new wrap is under it. */
  readonly keyId: string;
  /** ENCRYPTION_KEY_PREVIOUS's id, or null. */
  readonly previousKeyId: string | null;
  private readonly masters = new Map<string, Buffer>();

  constructor(master: Buffer, previous: Buffer | null = null) {
    for (const k of [master, previous]) if (k && k.length !== KEY_BYTES) throw new Error('the master key must be 32 bytes');
    this.keyId = masterKeyId(master);
    this.masters.set(this.keyId, master);
    this.previousKeyId = previous ? masterKeyId(previous) : null;
    if (previous) this.masters.set(this.previousKeyId!, previous);
  }

  /** True when this process holds the master key of that id. */
  knows(keyId: string): boolean {
    return this.masters.has(keyId);
  }

  /** base64url of nonce | tag | AES-256-GCM(key | prefix), bound to the image's blob name; under the current key. */
  wrap(k: ImageKey, objectName: string): string {
    return this.seal(Buffer.concat([k.key, k.prefix]), objectName);
  }

  /** `keyId` names the master key that wrapped it; null (rows of earlier versions) tries each. */
  unwrap(wrapped: string, objectName: string, keyId: string | null = null): ImageKey {
    const plain = this.open(wrapped, objectName, keyId);
    return { key: plain.subarray(0, KEY_BYTES), prefix: plain.subarray(KEY_BYTES) };
  }

  /** A server secret wrapped under the current key, bound to its name. */
  wrapSecret(value: string, name: string): string {
    return this.seal(Buffer.from(value, 'utf8'), `server-secret:${name}`);
  }

  unwrapSecret(wrapped: string, name: string, keyId: string): string {
    return this.open(wrapped, `server-secret:${name}`, keyId).toString('utf8');
  }

  private seal(plain: Buffer, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.masters.get(this.keyId)!, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  private open(wrapped: string, aad: string, keyId: string | null): Buffer {
    const raw = Buffer.from(wrapped, 'base64url');
    const candidates = keyId === null ? [...this.masters.values()] : [this.masters.get(keyId)];
    let failure: unknown = new Error(`wrapped by a master key this process does not have (key id ${keyId}): set it as ENCRYPTION_KEY_PREVIOUS`);
    for (const master of candidates) {
      if (!master) continue;
      try {
        const decipher = createDecipheriv('aes-256-gcm', master, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        decipher.setAAD(Buffer.from(aad));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
      } catch (e) {
        failure = e;
      }
    }
    throw failure;
  }
}
