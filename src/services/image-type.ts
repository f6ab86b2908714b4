/**
 * Decides an image's type from its leading bytes, never from the client's claim.
 * file-type is ESM-only; Node 20.19+ loads it through require().
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fileTypeFromBuffer } = require('file-type') as {
  fileTypeFromBuffer(input: Uint8Array): Promise<{ ext: string; mime: string } | undefined>;
};

/** Enough leading bytes for every format below (file-type reads at most 4100 for these). */
export const SNIFF_BYTES = 4100;

export const ACCEPTED_IMAGE_TYPES = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'image/heic',
  'image/heif',
  'image/heic-sequence',
  'image/heif-sequence',
  'image/avif',
]);

/** The MIME type of an accepted image, or null for anything else. */
export async function sniffImageType(head: Buffer): Promise<string | null> {
  const found = await fileTypeFromBuffer(head);
  return found && ACCEPTED_IMAGE_TYPES.has(found.mime) ? found.mime : null;
}
