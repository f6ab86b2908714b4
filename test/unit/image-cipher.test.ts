import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { KeyWrapper, masterKeyId } from '../../src/services/cipher/key-wrapper';
import { SegmentDecryptor } from '../../src/services/cipher/segment-decryptor';
import { SegmentEncryptor } from '../../src/services/cipher/segment-encryptor';
import {
  ImageKey,
  NEW_IMAGE_CIPHER,
  newImageKey,
  sealedRange,
  sealedSize,
  SEGMENT_BYTES,
  segmentBytesOf,
} from '../../src/services/cipher/segment-format';
import { createCipheriv } from 'node:crypto';
import { useSeed } from '../support/seed';

/** Feeds `bytes` in uneven chunks, as a network would. */
function chunked(bytes: Buffer, size = 7_777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

/** Seals `plain` fed in `chunk`-byte pieces; with `size`, as a declared-size upload streams it. */
async function seal(key: ImageKey, plain: Buffer, size?: number, segment = SEGMENT_BYTES, chunk = 7_777): Promise<Buffer> {
  return buffer(chunked(plain, chunk).pipe(new SegmentEncryptor(key, segment, size)));
}

async function open(
  key: ImageKey,
  sealed: Buffer,
  size: number,
  first?: number,
  last?: number,
  segment = SEGMENT_BYTES,
  chunk = 5_000,
): Promise<Buffer> {
  const d = new SegmentDecryptor(key, size, first, last, segment);
  const source = chunked(sealed, chunk);
  source.once('error', (e) => d.destroy(e));
  return buffer(source.pipe(d));
}

/** The stored format written out by hand with node:crypto: what any build must keep reading. */
function sealByHand(key: ImageKey, plain: Buffer, segment: number): Buffer {
  const parts: Buffer[] = [];
  const count = Math.max(1, Math.ceil(plain.length / segment));
  for (let i = 0; i < count; i++) {
    const nonce = Buffer.alloc(12);
    key.prefix.copy(nonce, 0);
    nonce.writeUInt32BE(i, 7);
    nonce[11] = i === count - 1 ? 1 : 0;
    const c = createCipheriv('aes-256-gcm', key.key, nonce);
    parts.push(c.update(plain.subarray(i * segment, (i + 1) * segment)), c.final(), c.getAuthTag());
  }
  return Buffer.concat(parts);
}

describe('image cipher stored format', () => {
  const random = useSeed();
  it('seals exactly the documented segment format (nonce = prefix | index | last flag, tag after each segment)', async () => {
    const key = newImageKey();
    for (const segment of [64 * 1024, 256 * 1024]) {
      for (const size of [0, 1, segment - 1, segment, segment + 3, 3 * segment]) {
        const plain = random().bytes(size);
        const expected = sealByHand(key, plain, segment);
        expect((await seal(key, plain, undefined, segment)).equals(expected), `held, ${segment}/${size}`).to.equal(true);
        expect((await seal(key, plain, size, segment)).equals(expected), `streamed, ${segment}/${size}`).to.equal(true);
        expect((await open(key, expected, size, undefined, undefined, segment)).equals(plain), `opened, ${segment}/${size}`).to.equal(true);
      }
    }
  });
});

describe('image cipher (chunked AES-256-GCM)', () => {
  const random = useSeed();
  const key = newImageKey();

  for (const size of [1, 1000, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES + 123]) {
    it(`round-trips ${size} bytes, stored as exactly sealedSize(${size}) bytes`, async () => {
      const plain = random().bytes(size);
      // Chunks smaller than a segment, and larger ones that hold whole segments.
      for (const chunk of [5_000, 3 * SEGMENT_BYTES + 1_000]) {
        const sealed = await seal(key, plain, undefined, undefined, chunk);
        expect(sealed.length).to.equal(sealedSize(size));
        if (size >= 32) expect(sealed.includes(plain.subarray(0, 32))).to.equal(false);
        expect((await seal(key, plain, size, undefined, chunk)).equals(sealed), `declared size, ${chunk}-byte chunks`).to.equal(true);
        expect((await open(key, sealed, size, undefined, undefined, undefined, chunk)).equals(plain), `${chunk}-byte chunks`).to.equal(
          true,
        );
      }
    });
  }

  it('with the size declared, seals as it streams and stores the very same bytes as when it must wait for the end', async () => {
    for (const size of [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 2 * SEGMENT_BYTES + 123]) {
      const plain = random().bytes(size);
      const held = await seal(key, plain);
      const streamed = await seal(key, plain, size);
      expect(streamed.equals(held), `size ${size}`).to.equal(true);
    }
  });

  it('a changed byte, a cut-off end or another key fails the stream', async () => {
    const size = 2 * SEGMENT_BYTES + 10;
    const plain = random().bytes(size);
    const sealed = await seal(key, plain);
    const tampered = Buffer.from(sealed);
    tampered[SEGMENT_BYTES + 100] ^= 1;
    const fails = (p: Promise<Buffer>, what: string) =>
      p.then(
        () => expect.fail(`${what} went unnoticed`),
        (e) => expect(String(e)).to.match(/authenticate/),
      );
    await fails(open(key, tampered, size), 'tampering');
    // Drop the last segment and present the second as the last: its nonce says "not last".
    await fails(open(key, sealed.subarray(0, 2 * (SEGMENT_BYTES + 16)), 2 * SEGMENT_BYTES), 'truncation');
    await fails(open(newImageKey(), sealed, size), 'another key');
  });

  it('with the size declared, fails a stream longer or shorter than declared', async () => {
    const plain = random().bytes(SEGMENT_BYTES + 10);
    for (const declared of [plain.length - 1, plain.length + 1, SEGMENT_BYTES]) {
      await seal(key, plain, declared).then(
        () => expect.fail(`declared ${declared} for ${plain.length} bytes went unnoticed`),
        (e) => expect(String(e)).to.match(/declared size/),
      );
    }
  });

  it('new images are sealed in 256 KiB segments; blobs sealed in 64 KiB segments (earlier builds) still open', async () => {
    expect(segmentBytesOf(NEW_IMAGE_CIPHER)).to.equal(256 * 1024);
    const old = segmentBytesOf('aes256gcm-64k');
    expect(old).to.equal(64 * 1024);
    const size = 2 * old + 77;
    const plain = random().bytes(size);
    const sealed = await seal(key, plain, undefined, old);
    expect(sealed.length).to.equal(sealedSize(size, old));
    const r = sealedRange(size, old + 5, size - 1, old);
    const got = await open(key, sealed.subarray(r.storedStart, r.storedStart + r.storedLength), size, old + 5, size - 1, old);
    expect(got.equals(plain.subarray(old + 5))).to.equal(true);
  });

  it('holds the last wanted bytes until beforeLastBytes has succeeded, and fails the stream when it fails', async () => {
    const size = 2 * SEGMENT_BYTES + 99;
    const plain = random().bytes(size);
    const sealed = await seal(key, plain);
    for (const [first, last] of [
      [0, size - 1],
      [5, SEGMENT_BYTES + 7],
    ]) {
      let received = 0;
      let receivedWhenCalled = -1;
      const d = new SegmentDecryptor(key, size, first, last, SEGMENT_BYTES, {
        beforeLastBytes: async () => {
          receivedWhenCalled = received;
        },
      });
      const r = sealedRange(size, first, last);
      d.on('data', (c: Buffer) => (received += c.length));
      await new Promise((resolve, reject) =>
        chunked(sealed.subarray(r.storedStart, r.storedStart + r.storedLength))
          .pipe(d)
          .on('end', resolve)
          .on('error', reject),
      );
      expect(received).to.equal(last - first + 1);
      // Called once, with the last segment's bytes still held back.
      expect(receivedWhenCalled).to.be.greaterThan(-1);
      expect(receivedWhenCalled).to.be.lessThan(received);
    }
    const failing = new SegmentDecryptor(key, size, 0, size - 1, SEGMENT_BYTES, {
      beforeLastBytes: () => Promise.reject(new Error('grant used up')),
    });
    const got: Buffer[] = [];
    failing.on('data', (c: Buffer) => got.push(c));
    const outcome = await new Promise<unknown>((resolve) =>
      chunked(sealed)
        .pipe(failing)
        .on('end', () => resolve('ended'))
        .on('error', resolve),
    );
    expect(String(outcome)).to.match(/grant used up/);
    expect(Buffer.concat(got).length).to.be.lessThan(size);
  });

  it('refuses a cipher name it does not know rather than guess a segment size', () => {
    expect(() => segmentBytesOf('aes256gcm-3k')).to.throw(/unknown image cipher/);
  });

  it('opens any byte range from the segments that hold it alone', async () => {
    const size = 3 * SEGMENT_BYTES + 500;
    const plain = random().bytes(size);
    const sealed = await seal(key, plain);
    for (const [a, b] of [
      [0, 0],
      [10, SEGMENT_BYTES + 10],
      [SEGMENT_BYTES, 2 * SEGMENT_BYTES - 1],
      [2 * SEGMENT_BYTES + 7, size - 1],
    ]) {
      const r = sealedRange(size, a, b);
      // Small chunks, and chunks that hold whole segments.
      for (const chunk of [5_000, size]) {
        const got = await open(key, sealed.subarray(r.storedStart, r.storedStart + r.storedLength), size, a, b, undefined, chunk);
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
    expect(master.keyId).to.match(/^[A-Za-z0-9_-]{16}$/);
    expect(master.keyId).not.to.equal(new KeyWrapper(randomBytes(32)).keyId);
  });

  it('names each master key by an id; the previous key unwraps, new wraps are under the current one', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const before = new KeyWrapper(oldKey);
    const wrapped = before.wrap(key, 'blob-a');
    const secret = before.wrapSecret('s3cret', 'download-url-hmac');
    const during = new KeyWrapper(newKey, oldKey);
    expect(during.keyId).to.equal(masterKeyId(newKey));
    expect(during.previousKeyId).to.equal(before.keyId);
    expect(during.knows(before.keyId) && during.knows(during.keyId)).to.equal(true);
    expect(during.unwrap(wrapped, 'blob-a', before.keyId).key.equals(key.key)).to.equal(true);
    expect(during.unwrapSecret(secret, 'download-url-hmac', before.keyId)).to.equal('s3cret');
    // A secret is bound to its name, and a wrap to the master key its id names.
    expect(() => during.unwrapSecret(secret, 'receipt-ed25519-pkcs8', before.keyId)).to.throw();
    expect(() => during.unwrap(wrapped, 'blob-a', during.keyId)).to.throw();
    const again = during.wrap(key, 'blob-a');
    expect(new KeyWrapper(newKey).unwrap(again, 'blob-a', during.keyId).prefix.equals(key.prefix)).to.equal(true);
    expect(() => before.unwrap(again, 'blob-a')).to.throw();
    expect(() => new KeyWrapper(newKey).unwrap(wrapped, 'blob-a', before.keyId)).to.throw(/ENCRYPTION_KEY_PREVIOUS/);
  });
});
