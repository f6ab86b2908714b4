import { StartupError } from '../errors';
import type { SecretRepository } from '../repositories/secret.repository';
import type { KeyWrapper } from './cipher/key-wrapper';

/** The row in which earlier versions kept their master key's check value (a key id is its start). */
export const LEGACY_KEY_CHECK = 'encryption-key-check';

/** Where the image keys are, as far as checking the master keys goes. */
export interface WrappedKeyIds {
  /** A key id of a live wrapped image key that is none of `known`, or null when there is none. */
  findKeyIdOutside(known: string[]): Promise<string | null>;
}

/**
 * The server's own secrets (download-URL signing, the receipt key, the code HMAC key), made once
 * and shared by every instance through the database, where they are stored wrapped by the master
 * key: a dump of the database alone signs no URL and forges no receipt.
 */
export class ServerSecrets {
  constructor(
    private readonly rows: SecretRepository,
    private readonly keys: KeyWrapper,
  ) {}

  /** The secret's value: made by the first instance that asks, the same for every other. */
  async getOrCreate(name: string, make: () => string): Promise<string> {
    let row = await this.rows.find(name);
    if (!row) {
      await this.rows.insertIfAbsent({ name, value: this.keys.wrapSecret(make(), name), keyId: this.keys.keyId });
      row = await this.rows.find(name);
      if (!row) throw new Error(`server secret ${name} was not stored`);
    }
    if (row.keyId !== null) return this.keys.unwrapSecret(row.value, name, row.keyId);
    // Stored plain by an earlier version: wrapped now (another instance starting alongside may
    // have done it already; the value is the same either way).
    await this.rows.replace(row, { value: this.keys.wrapSecret(row.value, name), keyId: this.keys.keyId });
    return row.value;
  }

  /**
   * Refuses to start when something is wrapped by a master key this process does not have: it
   * could serve none of those images, and would wrap new secrets beside unreadable ones.
   * `source` says where the current key came from (never the key).
   */
  async verifyMasterKeys(images: WrappedKeyIds, source: string): Promise<void> {
    const known = [this.keys.keyId, ...(this.keys.previousKeyId ? [this.keys.previousKeyId] : [])];
    const refuse = (what: string, keyId: string) =>
      new StartupError(
        `ENCRYPTION_KEY is not the key this database's images were encrypted with: ${what} wrapped by the master key with id ${keyId}, ` +
          `which is neither the current key (${source}) nor ENCRYPTION_KEY_PREVIOUS; start with that key (while rotating: as ENCRYPTION_KEY_PREVIOUS)`,
      );
    const rows = await this.rows.list();
    const legacy = rows.find((r) => r.name === LEGACY_KEY_CHECK);
    if (legacy && !this.keys.knows(legacy.value.slice(0, 16))) throw refuse('its images are', legacy.value.slice(0, 16));
    const secret = rows.find((r) => r.keyId !== null && !this.keys.knows(r.keyId));
    if (secret) throw refuse(`the server secret ${secret.name} is`, secret.keyId!);
    const image = await images.findKeyIdOutside(known);
    if (image) throw refuse('image keys are', image);
    // Key ids now say which master key wrapped what; the single check value has had its day.
    if (legacy) await this.rows.delete(LEGACY_KEY_CHECK);
  }
}
