import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ImageKey, KeyWrapper, NEW_IMAGE_CIPHER, newImageKey, sealedRange, sealedSize, SEGMENT_BYTES, segmentBytesOf, SegmentDecryptor, SegmentEncryptor } from '../../src/services/image-cipher';
import { createCipheriv } from 'node:crypto';
import fs from 'node:fs';
import { nativeAead, nativeAeadProblem, nativeOpensslAead, nodeCryptoAead, SegmentAead, segmentAead } from '../../src/services/segment-aead';

/** Feeds `bytes` in uneven chunks, as a network would. */
function chunked(bytes: Buffer, size = 7_777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

interface Way {
  engine: SegmentAead;
  inPlace: boolean;
}

/** Every engine this build has, each writing into new buffers and over its input. */
const ENGINES: SegmentAead[] = [nodeCryptoAead, nativeAead, nativeOpensslAead].filter((e): e is SegmentAead => e !== null);
const WAYS: Way[] = ENGINES.flatMap((engine) => [false, true].map((inPlace) => ({ engine, inPlace })));
const wayName = (w: Way) => `${w.engine.name === 'native' ? `native (${w.engine.implementation})` : w.engine.name}${w.inPlace ? ', in place' : ''}`;

/** Seals a copy when in place: the caller's bytes stay as they were. */
async function seal(key: ImageKey, plain: Buffer, way: Way = { engine: segmentAead, inPlace: false }, size?: number, segment = SEGMENT_BYTES, chunk = 7_777): Promise<Buffer> {
  const input = way.inPlace ? Buffer.from(plain) : plain;
  return buffer(chunked(input, chunk).pipe(new SegmentEncryptor(key, segment, size, way)));
}

async function open(
  key: ImageKey,
  sealed: Buffer,
  size: number,
  first?: number,
  last?: number,
  way: Way = { engine: segmentAead, inPlace: false },
  segment = SEGMENT_BYTES,
  chunk = 5_000,
): Promise<Buffer> {
  const d = new SegmentDecryptor(key, size, first, last, segment, way);
  const source = chunked(way.inPlace ? Buffer.from(sealed) : sealed, chunk);
  source.once('error', (e) => d.destroy(e));
  return buffer(source.pipe(d));
}

describe('segment AES-GCM engines', () => {
  it('npm ci builds the native engine and servers use it (node:crypto is only the fallback)', () => {
    expect(segmentAead.name, `native engine unavailable: ${nativeAeadProblem}`).to.equal('native');
  });

  it('where the CPU has VAES, VPCLMULQDQ and AVX-512, the native engine runs the VAES code', function () {
    const flags = new Set((fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
    if (!nativeAead || !['vaes', 'vpclmulqdq', 'avx512f', 'avx512bw', 'avx512vl', 'aes', 'pclmulqdq'].every((f) => flags.has(f))) {
      this.skip(); // this CPU (or OS) lacks an instruction the VAES code needs, or the engine is not built (said above)
    }
    expect(nativeAead!.implementation).to.equal('vaes-avx512');
  });

  for (const engine of [nativeAead, nativeOpensslAead]) {
    const name = engine ? `native (${engine.implementation})` : 'a native engine';
    it(`${name} matches node:crypto on random keys, nonces, lengths and chunkings, and rejects any changed tag bit`, function () {
      if (!engine) this.skip(); // not built, or (OpenSSL held) the native engine is OpenSSL already
      const cut = (length: number) => {
        const pieces: [number, number][] = [];
        for (let at = 0; at < length; ) {
          const n = Math.min(length - at, Math.random() < 0.3 ? Math.floor(Math.random() * 40) : Math.floor(Math.random() * 70_000));
          pieces.push([at, at + n]);
          at += n;
        }
        return pieces;
      };
      for (let t = 0; t < 400; t++) {
        const key = randomBytes(32);
        const nonce = randomBytes(12);
        const length = t < 300 ? t : Math.floor(Math.random() * 300_000);
        const plain = randomBytes(length);
        const reference = createCipheriv('aes-256-gcm', key, nonce);
        const sealed = Buffer.concat([reference.update(plain), reference.final()]);
        const tag = reference.getAuthTag();

        const sealing = engine!.context(key, true);
        sealing.start(nonce);
        const mine = Buffer.from(plain);
        for (const [a, b] of cut(length)) sealing.update(mine.subarray(a, b), true);
        expect(mine.equals(sealed), `sealed ${length} bytes`).to.equal(true);
        expect(sealing.sealTag().equals(tag), `tag of ${length} bytes`).to.equal(true);

        const opening = engine!.context(key, false);
        opening.start(nonce);
        const back = Buffer.concat(cut(length).map(([a, b]) => opening.update(sealed.subarray(a, b), false)));
        expect(opening.checkTag(tag) && back.equals(plain), `opened ${length} bytes`).to.equal(true);
        opening.start(nonce);
        opening.update(Buffer.from(sealed), true);
        const altered = Buffer.from(tag);
        altered[t % 16] ^= 1 << t % 8;
        expect(opening.checkTag(altered), `altered tag of ${length} bytes`).to.equal(false);
      }
    });
  }

  it('the native engine seals exactly what node:crypto seals, and each opens what the other sealed', async function () {
    if (!nativeAead) this.skip(); // the test above says why
    const key = newImageKey();
    for (const size of [0, 1, SEGMENT_BYTES + 3, 3 * SEGMENT_BYTES]) {
      const plain = randomBytes(size);
      const byNode = await seal(key, plain, { engine: nodeCryptoAead, inPlace: false }, size);
      const byNative = await seal(key, plain, { engine: nativeAead!, inPlace: true }, size);
      expect(byNative.equals(byNode), `size ${size}`).to.equal(true);
      expect((await open(key, byNative, size, undefined, undefined, { engine: nodeCryptoAead, inPlace: false })).equals(plain)).to.equal(true);
      expect((await open(key, byNode, size, undefined, undefined, { engine: nativeAead!, inPlace: true })).equals(plain)).to.equal(true);
    }
  });
});

describe('image cipher (chunked AES-256-GCM)', () => {
  const key = newImageKey();

  for (const way of WAYS) {
    describe(wayName(way), () => {
      for (const size of [1, 1000, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES + 123]) {
        it(`round-trips ${size} bytes, stored as exactly sealedSize(${size}) bytes`, async () => {
          const plain = randomBytes(size);
          // Chunks smaller than a segment, and larger ones that hold whole segments.
          for (const chunk of [5_000, 3 * SEGMENT_BYTES + 1_000]) {
            const sealed = await seal(key, plain, way, undefined, undefined, chunk);
            expect(sealed.length).to.equal(sealedSize(size));
            if (size >= 32) expect(sealed.includes(plain.subarray(0, 32))).to.equal(false);
            expect((await seal(key, plain, way, size, undefined, chunk)).equals(sealed), `declared size, ${chunk}-byte chunks`).to.equal(true);
            expect((await open(key, sealed, size, undefined, undefined, way, undefined, chunk)).equals(plain), `${chunk}-byte chunks`).to.equal(true);
          }
        });
      }

      it('with the size declared, seals as it streams and stores the very same bytes as when it must wait for the end', async () => {
        for (const size of [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 2 * SEGMENT_BYTES + 123]) {
          const plain = randomBytes(size);
          const held = await seal(key, plain, way);
          const streamed = await seal(key, plain, way, size);
          expect(streamed.equals(held), `size ${size}`).to.equal(true);
        }
      });

      it('a changed byte, a cut-off end or another key fails the stream', async () => {
        const size = 2 * SEGMENT_BYTES + 10;
        const plain = randomBytes(size);
        const sealed = await seal(key, plain, way);
        const tampered = Buffer.from(sealed);
        tampered[SEGMENT_BYTES + 100] ^= 1;
        const fails = (p: Promise<Buffer>, what: string) => p.then(() => expect.fail(`${what} went unnoticed`), (e) => expect(String(e)).to.match(/authenticate/));
        await fails(open(key, tampered, size, undefined, undefined, way), 'tampering');
        // Drop the last segment and present the second as the last: its nonce says "not last".
        await fails(open(key, sealed.subarray(0, 2 * (SEGMENT_BYTES + 16)), 2 * SEGMENT_BYTES, undefined, undefined, way), 'truncation');
        await fails(open(newImageKey(), sealed, size, undefined, undefined, way), 'another key');
      });
    });
  }

  it('with the size declared, fails a stream longer or shorter than declared', async () => {
    const plain = randomBytes(SEGMENT_BYTES + 10);
    for (const declared of [plain.length - 1, plain.length + 1, SEGMENT_BYTES]) {
      await seal(key, plain, undefined, declared).then(
        () => expect.fail(`declared ${declared} for ${plain.length} bytes went unnoticed`),
        (e) => expect(String(e)).to.match(/declared size/),
      );
    }
  });

  it('new images are sealed in 64 KiB segments; blobs sealed in 256 KiB segments (large images of earlier builds) still open', async () => {
    expect(segmentBytesOf(NEW_IMAGE_CIPHER)).to.equal(64 * 1024);
    const old = segmentBytesOf('aes256gcm-256k');
    expect(old).to.equal(256 * 1024);
    const size = 2 * old + 77;
    const plain = randomBytes(size);
    const sealed = await seal(key, plain, undefined, undefined, old);
    expect(sealed.length).to.equal(sealedSize(size, old));
    const r = sealedRange(size, old + 5, size - 1, old);
    const got = await open(key, sealed.subarray(r.storedStart, r.storedStart + r.storedLength), size, old + 5, size - 1, undefined, old);
    expect(got.equals(plain.subarray(old + 5))).to.equal(true);
  });

  it('holds the last wanted bytes until beforeLastBytes has succeeded, and fails the stream when it fails', async () => {
    const size = 2 * SEGMENT_BYTES + 99;
    const plain = randomBytes(size);
    const sealed = await seal(key, plain);
    for (const [first, last] of [[0, size - 1], [5, SEGMENT_BYTES + 7]]) {
      let received = 0;
      let receivedWhenCalled = -1;
      const d = new SegmentDecryptor(key, size, first, last, SEGMENT_BYTES, {
        beforeLastBytes: async () => {
          receivedWhenCalled = received;
        },
      });
      const r = sealedRange(size, first, last);
      d.on('data', (c: Buffer) => (received += c.length));
      await new Promise((resolve, reject) => chunked(sealed.subarray(r.storedStart, r.storedStart + r.storedLength)).pipe(d).on('end', resolve).on('error', reject));
      expect(received).to.equal(last - first + 1);
      // Called once, with the last segment's bytes still held back.
      expect(receivedWhenCalled).to.be.greaterThan(-1);
      expect(receivedWhenCalled).to.be.lessThan(received);
    }
    const failing = new SegmentDecryptor(key, size, 0, size - 1, SEGMENT_BYTES, { beforeLastBytes: () => Promise.reject(new Error('grant used up')) });
    const got: Buffer[] = [];
    failing.on('data', (c: Buffer) => got.push(c));
    const outcome = await new Promise<unknown>((resolve) => chunked(sealed).pipe(failing).on('end', () => resolve('ended')).on('error', resolve));
    expect(String(outcome)).to.match(/grant used up/);
    expect(Buffer.concat(got).length).to.be.lessThan(size);
  });

  it('refuses a cipher name it does not know rather than guess a segment size', () => {
    expect(() => segmentBytesOf('aes256gcm-3k')).to.throw(/unknown image cipher/);
  });

  it('opens any byte range from the segments that hold it alone', async () => {
    const size = 3 * SEGMENT_BYTES + 500;
    const plain = randomBytes(size);
    const sealed = await seal(key, plain);
    for (const [a, b] of [[0, 0], [10, SEGMENT_BYTES + 10], [SEGMENT_BYTES, 2 * SEGMENT_BYTES - 1], [2 * SEGMENT_BYTES + 7, size - 1]]) {
      const r = sealedRange(size, a, b);
      // Small chunks, and (in place) chunks that hold whole segments.
      for (const [way, chunk] of [[undefined, 5_000], [{ engine: segmentAead, inPlace: true }, size]] as const) {
        const got = await open(key, sealed.subarray(r.storedStart, r.storedStart + r.storedLength), size, a, b, way, undefined, chunk);
        expect(got.equals(plain.subarray(a, b + 1)), `${a}-${b}, ${chunk}-byte chunks`).to.equal(true);
      }
    }
  });

  it('wraps a key so that only the same master key, for the same blob, unwraps it', () => {
    const master = new KeyWrapper(randomBytes(32));
    const wrapped = master.wrap(key, 'blob-a');
    const back = master.unwrap(wrapped, 'blob-a');
    expect(back.key.equals(key.key) && back.prefix.equals(key.prefix)).to.equal(true);
    expect(() => master.unwrap(wrapped, 'blob-b')).to.throw();
    expect(() => new KeyWrapper(randomBytes(32)).unwrap(wrapped, 'blob-a')).to.throw();
    expect(master.checkValue()).not.to.equal(new KeyWrapper(randomBytes(32)).checkValue());
  });
});
