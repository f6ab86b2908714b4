import path from 'node:path';
import type { EnvReader } from './env-reader';

/** Master keys and encryption at rest; src/master-key.ts reads the key file at start-up. */
export interface EncryptionSection {
  /** ENCRYPTION_KEY (32 bytes); null means: ENCRYPTION_KEY_FILE, or else the one kept in DATA_DIR, made on first run. */
  encryptionKey: Buffer | null;
  /** ENCRYPTION_KEY_FILE: a file holding the master key (a Docker or Kubernetes secret), read at start-up. */
  encryptionKeyFile: string | null;
  /** ENCRYPTION_KEY_PREVIOUS: the master key before a rotation; it only unwraps, until `npm run rewrap` has moved every key off it. */
  encryptionKeyPrevious: Buffer | null;
  /** False only for the benchmark's comparison (ENCRYPTION=off): new images are stored unencrypted. */
  encryptUploads: boolean;
}

/** ENCRYPTION_KEY, ENCRYPTION_KEY_FILE, ENCRYPTION_KEY_PREVIOUS and ENCRYPTION. A refused key is never echoed: it is a secret. */
export function encryptionConfig(r: EnvReader, production: boolean): EncryptionSection {
  const masterKey = (name: string): Buffer | null => {
    const raw = r.str(name, '');
    if (!raw) return null;
    const key = Buffer.from(raw, 'base64');
    if (/^[A-Za-z0-9+/]{43}=$/.test(raw) && key.length === 32) return key;
    r.problem(`${name}: expected 32 random bytes in base64 (44 characters; \`openssl rand -base64 32\`)`);
    return null;
  };
  const encryptionKey = masterKey('ENCRYPTION_KEY');
  const encryptionKeyPrevious = masterKey('ENCRYPTION_KEY_PREVIOUS');
  const encryptionKeyFileRaw = r.str('ENCRYPTION_KEY_FILE', '');
  const encryptionKeyFile = encryptionKeyFileRaw ? path.resolve(encryptionKeyFileRaw) : null;
  if (r.env.ENCRYPTION_KEY && encryptionKeyFile) r.problem('ENCRYPTION_KEY and ENCRYPTION_KEY_FILE: set one of them, not both');
  if (encryptionKey && encryptionKeyPrevious?.equals(encryptionKey)) {
    r.problem('ENCRYPTION_KEY_PREVIOUS: is the same key as ENCRYPTION_KEY; it must be the key used before the rotation');
  }
  const encryptUploads = r.oneOf('ENCRYPTION', 'on', ['on', 'off'] as const) === 'on';
  if (production) {
    if (!encryptUploads)
      r.problem('ENCRYPTION: "off" stores images unencrypted and exists only for the benchmark\'s comparison; it is refused in production');
    // A key generated beside the database is in every copy of DATA_DIR the database is in.
    if (!r.env.ENCRYPTION_KEY && !encryptionKeyFile) {
      r.problem(
        'ENCRYPTION_KEY or ENCRYPTION_KEY_FILE: required in production (a master key generated in DATA_DIR would be kept beside the database it protects)',
      );
    }
  }
  return { encryptionKey, encryptionKeyFile, encryptionKeyPrevious, encryptUploads };
}
