import { createHmac, randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';

/** scrypt's cost: N (CPU and memory), r (block size), p (parallel passes). */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * 32 MiB of memory a hash (128·N·r), three passes: one of the equal-strength choices OWASP's
 * password storage guidance lists for scrypt (N=2^17, r=8, p=1 needs 128 MiB a hash instead).
 */
export const PIN_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 3 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** A stored hash names its own parameters; these bounds keep a damaged row from asking for gigabytes. */
const MAX = { N: 2 ** 20, r: 32, p: 16 };

function derive(pin: string, pepper: Buffer, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // The PIN is first keyed with a server secret, so a copy of the user table alone is not
  // enough to try PINs offline; scrypt makes each try slow even with the secret.
  const keyed = createHmac('sha256', pepper).update(pin.normalize('NFC')).digest();
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(keyed, salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$<salt>$<hash>` (base64url): the parameters travel with the hash, so they can change later. */
export async function hashPin(pin: string, pepper: Buffer, params: ScryptParams = PIN_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(pin, pepper, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `pin` is the one `stored` was made from; compared in constant time. False for a malformed `stored`. */
export async function verifyPin(pin: string, stored: string, pepper: Buffer): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every(Number.isInteger) || N < 2 || N > MAX.N || (N & (N - 1)) !== 0 || r < 1 || r > MAX.r || p < 1 || p > MAX.p)
    return false;
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (salt.length === 0 || expected.length !== KEY_BYTES) return false;
  const key = await derive(pin, pepper, salt, { N, r, p });
  return timingSafeEqual(key, expected);
}
