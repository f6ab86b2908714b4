import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config';
import { StartupError } from './errors';
import type { Logger } from './logger';

/** The master keys a process wraps and unwraps image keys and server secrets with. */
export interface MasterKeys {
  /** Wraps everything new; unwraps what it wrapped. */
  current: Buffer;
  /** ENCRYPTION_KEY_PREVIOUS: only unwraps, while a rotation is under way. */
  previous: Buffer | null;
  /** Where `current` came from, for messages (never the key itself). */
  source: string;
}

export const MASTER_KEY_FILE = 'encryption.key';

type KeyConfig = Pick<Config, 'encryptionKey' | 'encryptionKeyFile' | 'encryptionKeyPrevious' | 'dataDir'>;

/**
 * The master key from ENCRYPTION_KEY, else from the file ENCRYPTION_KEY_FILE names (the Docker
 * and Kubernetes secrets convention), else (development only: config refuses it in production)
 * the one kept in DATA_DIR, made on first run when `create` allows it.
 */
export async function loadMasterKeys(config: KeyConfig, log: Logger | null, options: { create: boolean }): Promise<MasterKeys> {
  let current: Buffer;
  let source: string;
  if (config.encryptionKey) {
    current = config.encryptionKey;
    source = 'ENCRYPTION_KEY';
  } else if (config.encryptionKeyFile) {
    current = await readKeyFile(config.encryptionKeyFile);
    source = `ENCRYPTION_KEY_FILE=${config.encryptionKeyFile}`;
  } else {
    current = await dataDirKey(config.dataDir, log, options.create);
    source = path.join(config.dataDir, MASTER_KEY_FILE);
  }
  if (config.encryptionKeyPrevious?.equals(current)) {
    throw new StartupError(
      `ENCRYPTION_KEY_PREVIOUS is the same key as the current master key (${source}); it must be the key used before the rotation`,
    );
  }
  return { current, previous: config.encryptionKeyPrevious, source };
}

/** A secrets file holds the key in base64, usually with a trailing newline. */
async function readKeyFile(file: string): Promise<Buffer> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw new StartupError(
      `cannot read the master key from ENCRYPTION_KEY_FILE=${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { cause: e },
    );
  }
  const raw = text.trim();
  const key = Buffer.from(raw, 'base64');
  // The message never quotes the file: it is a secret.
  if (!/^[A-Za-z0-9+/]{43}=$/.test(raw) || key.length !== 32) {
    throw new StartupError(
      `ENCRYPTION_KEY_FILE=${file} does not hold 32 random bytes in base64 (44 characters; \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

/**
 * The zero-setup start: without ENCRYPTION_KEY, the master key is kept in DATA_DIR, made on
 * first run (and said so, since losing the file makes every stored image unreadable).
 */
async function dataDirKey(dataDir: string, log: Logger | null, create: boolean): Promise<Buffer> {
  const file = path.join(dataDir, MASTER_KEY_FILE);
  const read = async () => {
    const key = Buffer.from((await fs.promises.readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new StartupError(`${file} does not hold a 32-byte base64 key (ENCRYPTION_KEY unset, DATA_DIR=${dataDir})`);
    return key;
  };
  try {
    return await read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!create) throw new StartupError(`no master key: ENCRYPTION_KEY and ENCRYPTION_KEY_FILE are unset and ${file} does not exist`);
  }
  const key = randomBytes(32);
  await fs.promises.mkdir(dataDir, { recursive: true });
  // 'wx': two processes starting on one DATA_DIR at once must not each write a key of their own.
  const made = await fs.promises.writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      return false;
    },
  );
  if (!made) return read();
  log?.warn(
    { file },
    'ENCRYPTION_KEY is not set: generated a master key in DATA_DIR; keep it (and back it up) with the database, or no stored image can be read',
  );
  return key;
}
