import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Config } from './config';
import type { Logger } from './logger';
import { loadMasterKeys } from './master-key';
import { TypeormImageRepository } from './repositories/image.typeorm-repository';
import { TypeormSecretRepository } from './repositories/secret.typeorm-repository';
import { KeyWrapper } from './services/cipher/key-wrapper';
import { ReceiptSigner } from './services/receipts';
import { ServerSecrets } from './services/server-secrets';

/** The master keys and the secrets the server keeps (wrapped by them) in the database. */
export interface ServerKeys {
  /** Wraps each image's key and the server's secrets. */
  keys: KeyWrapper;
  /** Keys the HMAC of download URLs. */
  downloadSecret: Buffer;
  /** Keys the HMAC that stands in for a verification code in the database. */
  codeSecret: Buffer;
  /** Peppers the registration lock PIN hashes. */
  pinPepper: Buffer;
  /** Keys the form tokens of the account deletion page. */
  formSecret: Buffer;
  /** Signs image_destroyed receipts. */
  receipts: ReceiptSigner;
}

/**
 * Loads the master keys (src/master-key.ts: ENCRYPTION_KEY, its file, or the one in DATA_DIR)
 * and reads or creates each server secret. A server whose master keys cannot unwrap what the
 * database holds would serve nothing readable: it refuses to start.
 */
export async function loadServerKeys(config: Config, db: DataSource, log: Logger): Promise<ServerKeys> {
  const masterKeys = await loadMasterKeys(config, log, { create: true });
  const keys = new KeyWrapper(masterKeys.current, masterKeys.previous);
  const secrets = new ServerSecrets(new TypeormSecretRepository(db), keys);
  await secrets.verifyMasterKeys(new TypeormImageRepository(db), masterKeys.source);
  const randomKey = async (name: string) =>
    Buffer.from(await secrets.getOrCreate(name, () => randomBytes(32).toString('base64')), 'base64');
  return {
    keys,
    downloadSecret: await randomKey('download-url-hmac'),
    receipts: new ReceiptSigner(await secrets.getOrCreate('receipt-ed25519-pkcs8', () => ReceiptSigner.newKey())),
    codeSecret: await randomKey('verification-code-hmac'),
    pinPepper: await randomKey('registration-lock-pepper'),
    formSecret: await randomKey('account-delete-form-hmac'),
  };
}
