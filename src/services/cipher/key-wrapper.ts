import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { ImageKey, KEY_BYTES } from './segment-format';

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
    let failure: unknown = new Error(
      `wrapped by a master key this process does not have (key id ${keyId}): set it as ENCRYPTION_KEY_PREVIOUS`,
    );
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
