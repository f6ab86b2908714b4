import { CipherGCM, createCipheriv, createDecipheriv, DecipherGCM } from 'node:crypto';

/**
 * AES-256-GCM as the segment encryptor and decryptor use it: one context per image and
 * direction, a fresh nonce (and node:crypto cipher object) per segment. Everything comes from
 * node:crypto, that is the OpenSSL Node ships: no cryptography of our own.
 */
export interface AeadContext {
  /** Begins a segment under `nonce` (12 bytes; node:crypto copies it, so the caller may reuse the buffer). */
  start(nonce: Buffer): void;
  /** The segment's next bytes, transformed. */
  update(chunk: Buffer): Buffer;
  /** Sealing: ends the segment and returns its 16-byte tag. */
  sealTag(): Buffer;
  /** Opening: ends the segment; false when `tag` does not hold (altered bytes, wrong key or nonce). */
  checkTag(tag: Buffer): boolean;
}

export const TAG_BYTES = 16;

export function aeadContext(key: Buffer, encrypt: boolean): AeadContext {
  let cipher: CipherGCM | DecipherGCM | null = null;
  return {
    start(nonce) {
      cipher = encrypt ? createCipheriv('aes-256-gcm', key, nonce) : createDecipheriv('aes-256-gcm', key, nonce);
    },
    update: (chunk) => cipher!.update(chunk),
    sealTag() {
      const c = cipher as CipherGCM;
      c.final();
      return c.getAuthTag();
    },
    checkTag(tag) {
      if (tag.length !== TAG_BYTES) return false;
      const d = cipher as DecipherGCM;
      d.setAuthTag(tag);
      try {
        d.final();
        return true;
      } catch {
        return false;
      }
    },
  };
}
