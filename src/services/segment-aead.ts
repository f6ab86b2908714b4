import { CipherGCM, createCipheriv, createDecipheriv, DecipherGCM } from 'node:crypto';
import path from 'node:path';

/**
 * AES-256-GCM as the segment ciphers of image-cipher.ts use it: one context per image and
 * direction, a fresh nonce per segment. Two engines produce the same bytes:
 *
 * - `native`: native/gcm.c, built by `npm ci` (the `install` script). It keeps the key schedule
 *   for the whole image and writes where it is told, into the input itself when the caller gives
 *   that up. Where the CPU has VAES and VPCLMULQDQ (AVX-512) it runs native/vaes-gcm.c, about
 *   2.3 times as fast as the OpenSSL that Node links (0.16 against 0.35 ms per MiB here);
 *   elsewhere that OpenSSL. On a 10 MiB download the event loop's share of decryption went
 *   from about 8 ms (node:crypto) to about 3 (OpenSSL, native), and less again with VAES
 *   (bench/README.md).
 * - `node:crypto`: the fallback where the addon could not be built (no compiler): a cipher
 *   object per segment and a new buffer per update.
 */
export interface SegmentAead {
  readonly name: 'native' | 'node:crypto';
  /** The code that does the work: 'vaes-avx512' or 'openssl' (native), or 'node:crypto'. */
  readonly implementation: string;
  context(key: Buffer, encrypt: boolean): AeadContext;
}

export interface AeadContext {
  /** Begins a segment under `nonce` (12 bytes, copied: the caller may reuse the buffer). */
  start(nonce: Buffer): void;
  /** The segment's next bytes, transformed. With `inPlace` they may overwrite `chunk`, which the caller gives up. */
  update(chunk: Buffer, inPlace: boolean): Buffer;
  /** Sealing: ends the segment and returns its 16-byte tag. */
  sealTag(): Buffer;
  /** Opening: ends the segment; false when `tag` does not hold (altered bytes, wrong key or nonce). */
  checkTag(tag: Buffer): boolean;
}

export const TAG_BYTES = 16;

const nodeCrypto: SegmentAead = {
  name: 'node:crypto',
  implementation: 'node:crypto',
  context(key, encrypt) {
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
  },
};

interface GcmAddon {
  /** What create() uses unless told `openssl`: 'vaes-avx512' where the CPU has it and it passed its load check. */
  readonly implementation: 'vaes-avx512' | 'openssl';
  create(key: Buffer, encrypt: boolean, openssl?: boolean): object;
  start(ctx: object, nonce: Buffer): void;
  update(ctx: object, from: Buffer, to: Buffer): void;
  finish(ctx: object, tag: Buffer): boolean;
}

function nativeEngine(gcm: GcmAddon, openssl: boolean): SegmentAead {
  return {
    name: 'native',
    implementation: openssl ? 'openssl' : gcm.implementation,
    context(key, encrypt) {
      const ctx = gcm.create(key, encrypt, openssl);
      return {
        start: (nonce) => gcm.start(ctx, nonce),
        update(chunk, inPlace) {
          const out = inPlace ? chunk : Buffer.allocUnsafe(chunk.length);
          gcm.update(ctx, chunk, out);
          return out;
        },
        sealTag() {
          // From Node's shared pool: not one ArrayBuffer per segment for the collector to track.
          const tag = Buffer.allocUnsafe(TAG_BYTES);
          if (!gcm.finish(ctx, tag)) throw new Error('AES-256-GCM could not seal the segment');
          return tag;
        },
        checkTag: (tag) => tag.length === TAG_BYTES && gcm.finish(ctx, tag),
      };
    },
  };
}

/** Seals and opens a fixed vector with both engines: an addon that disagrees with node:crypto is not used. */
function agrees(engine: SegmentAead): boolean {
  const key = Buffer.alloc(32, 7);
  const nonce = Buffer.alloc(12, 3);
  const plain = Buffer.from('glimpse segment engine self-check, more than one block long');
  const seal = (e: SegmentAead) => {
    const c = e.context(key, true);
    c.start(nonce);
    const body = Buffer.from(c.update(Buffer.from(plain), false));
    return { body, tag: c.sealTag() };
  };
  const mine = seal(engine);
  const reference = seal(nodeCrypto);
  if (!mine.body.equals(reference.body) || !mine.tag.equals(reference.tag)) return false;
  const o = engine.context(key, false);
  o.start(nonce);
  const opened = o.update(Buffer.from(mine.body), true);
  if (!o.checkTag(mine.tag) || !opened.equals(plain)) return false;
  o.start(nonce);
  o.update(Buffer.from(mine.body), true);
  const altered = Buffer.from(mine.tag);
  altered[0] ^= 1;
  return !o.checkTag(altered);
}

/** Where `npm ci` builds the addon: the project root's native/build, from src/services or dist/src/services. */
const ADDON_PATHS = ['../../native/build/Release/gcm.node', '../../../native/build/Release/gcm.node'].map((p) => path.join(__dirname, p));

interface Loaded {
  engine: SegmentAead | null;
  /** The same addon held to OpenSSL, when `engine` runs other code (for the tests). */
  openssl: SegmentAead | null;
  problem: string | null;
}

function loadNative(): Loaded {
  for (const file of ADDON_PATHS) {
    let addon: GcmAddon;
    try {
      addon = require(file) as GcmAddon;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') continue;
      return { engine: null, openssl: null, problem: `${file} does not load: ${(e as Error).message}` };
    }
    const engine = nativeEngine(addon, false);
    const openssl = addon.implementation === 'openssl' ? null : nativeEngine(addon, true);
    if (!agrees(engine) || (openssl && !agrees(openssl))) return { engine: null, openssl: null, problem: `${file} disagrees with node:crypto` };
    return { engine, openssl, problem: null };
  }
  return { engine: null, openssl: null, problem: 'native/gcm.c is not built (npm ci builds it; it needs a C compiler)' };
}

const loaded = loadNative();

/** The native engine when it is built and sound, else node:crypto; `nativeAeadProblem` says why not. */
export const segmentAead: SegmentAead = loaded.engine ?? nodeCrypto;
export const nativeAeadProblem: string | null = loaded.problem;
export const nodeCryptoAead: SegmentAead = nodeCrypto;
export const nativeAead: SegmentAead | null = loaded.engine;
/** The native engine held to OpenSSL, where `nativeAead` runs the VAES code instead; else null. */
export const nativeOpensslAead: SegmentAead | null = loaded.openssl;
