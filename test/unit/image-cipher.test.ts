import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { cipherFor, KeyWrapper, LARGE_IMAGE_BYTES, newImageKey, sealedRange, sealedSize, SEGMENT_BYTES, segmentBytesOf, SegmentDecryptor, SegmentEncryptor } from '../../src/services/image-cipher';

/** Feeds `bytes` in uneven chunks, as a network would. */
function chunked(bytes: Buffer, size = 7_777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

async function seal(key: ReturnType<typeof newImageKey>, plain: Buffer): Promise<Buffer> {
  return buffer(chunked(plain).pipe(new SegmentEncryptor(key)));
}

async function open(key: ReturnType<typeof newImageKey>, sealed: Buffer, size: number, first?: number, last?: number): Promise<Buffer> {
  const d = new SegmentDecryptor(key, size, first, last);
  const source = chunked(sealed, 5_000);
  source.once('error', (e) => d.destroy(e));
  return buffer(source.pipe(d));
}

describe('image cipher (chunked AES-256-GCM)', () => {
  const key = newImageKey();

  for (const size of [1, 1000, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES + 123]) {
    it(`round-trips ${size} bytes, stored as exactly sealedSize(${size}) bytes`, async () => {
      const plain = randomBytes(size);
      const sealed = await seal(key, plain);
      expect(sealed.length).to.equal(sealedSize(size));
      if (size >= 32) expect(sealed.includes(plain.subarray(0, 32))).to.equal(false);
      expect((await open(key, sealed, size)).equals(plain)).to.equal(true);
    });
  }

  it('with the size declared, seals as it streams and stores the very same bytes as when it must wait for the end', async () => {
    for (const size of [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 2 * SEGMENT_BYTES + 123]) {
      const plain = randomBytes(size);
      const held = await seal(key, plain);
      const streamed = await buffer(chunked(plain).pipe(new SegmentEncryptor(key, SEGMENT_BYTES, size)));
      expect(streamed.equals(held), `size ${size}`).to.equal(true);
    }
  });

  it('with the size declared, fails a stream longer or shorter than declared', async () => {
    const plain = randomBytes(SEGMENT_BYTES + 10);
    for (const declared of [plain.length - 1, plain.length + 1, SEGMENT_BYTES]) {
      await buffer(chunked(plain).pipe(new SegmentEncryptor(key, SEGMENT_BYTES, declared))).then(
        () => expect.fail(`declared ${declared} for ${plain.length} bytes went unnoticed`),
        (e) => expect(String(e)).to.match(/declared size/),
      );
    }
  });

  it('still opens blobs sealed in 64 KiB segments (images stored before the segment size grew)', async () => {
    const old = segmentBytesOf('aes256gcm-64k');
    expect(old).to.equal(64 * 1024);
    expect(segmentBytesOf(cipherFor(LARGE_IMAGE_BYTES + 1))).to.equal(256 * 1024);
    expect(segmentBytesOf(cipherFor(LARGE_IMAGE_BYTES))).to.equal(old);
    expect(segmentBytesOf(cipherFor(undefined))).to.equal(old);
    const size = 2 * old + 77;
    const plain = randomBytes(size);
    const sealed = await buffer(chunked(plain).pipe(new SegmentEncryptor(key, old)));
    expect(sealed.length).to.equal(sealedSize(size, old));
    const r = sealedRange(size, old + 5, size - 1, old);
    const d = new SegmentDecryptor(key, size, old + 5, size - 1, old);
    const got = await buffer(chunked(sealed.subarray(r.storedStart, r.storedStart + r.storedLength), 5_000).pipe(d));
    expect(got.equals(plain.subarray(old + 5))).to.equal(true);
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
      const got = await open(key, sealed.subarray(r.storedStart, r.storedStart + r.storedLength), size, a, b);
      expect(got.equals(plain.subarray(a, b + 1)), `${a}-${b}`).to.equal(true);
    }
  });

  it('a changed byte, a cut-off end or another key fails the stream', async () => {
    const size = 2 * SEGMENT_BYTES + 10;
    const plain = randomBytes(size);
    const sealed = await seal(key, plain);
    const tampered = Buffer.from(sealed);
    tampered[SEGMENT_BYTES + 100] ^= 1;
    await open(key, tampered, size).then(() => expect.fail('tampering went unnoticed'), (e) => expect(String(e)).to.match(/authenticate/));
    // Drop the last segment and present the second as the last: its nonce says "not last".
    const cut = sealed.subarray(0, 2 * (SEGMENT_BYTES + 16));
    await open(key, cut, 2 * SEGMENT_BYTES).then(() => expect.fail('truncation went unnoticed'), (e) => expect(String(e)).to.match(/authenticate/));
    await open(newImageKey(), sealed, size).then(() => expect.fail('another key opened it'), (e) => expect(String(e)).to.match(/authenticate/));
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
