import { randomBytes } from 'node:crypto';
import { TAG_BYTES } from './segment-aead';

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
 *
 * This file is the format both sides share: SegmentEncryptor (segment-encryptor.ts) seals it,
 * SegmentDecryptor (segment-decryptor.ts) opens it, over AES-GCM from segment-aead.ts; each
 * image's key is wrapped under the master key by KeyWrapper (key-wrapper.ts).
 */
const PREFIX_BYTES = 7;
export const NONCE_BYTES = 12;
export const KEY_BYTES = 32;

/** Segment size of each cipher name an image may record; names no longer written (64k) stay readable. */
const SEGMENT_SIZES: Record<string, number> = {
  'aes256gcm-64k': 64 * 1024,
  'aes256gcm-256k': 256 * 1024,
};

/**
 * The cipher every new image is sealed with. A download releases nothing of a segment before its
 * tag is checked, so a segment is paid in latency and held memory per download; each segment also
 * costs a node:crypto cipher object. docs/performance.md has the measurement behind the choice.
 */
export const NEW_IMAGE_CIPHER = 'aes256gcm-256k';

/** The default segment size of SegmentEncryptor and SegmentDecryptor (callers pass the image's own). */
export const SEGMENT_BYTES = SEGMENT_SIZES[NEW_IMAGE_CIPHER];

/** The smallest segment of any cipher an image may record (or of a blob stored as sent). */
export const MIN_SEGMENT_BYTES = Math.min(SEGMENT_BYTES, ...Object.values(SEGMENT_SIZES));

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
export function nonce(n: Buffer, prefix: Buffer, index: number, last: boolean): Buffer {
  prefix.copy(n, 0);
  n.writeUInt32BE(index, PREFIX_BYTES);
  n[11] = last ? 1 : 0;
  return n;
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
