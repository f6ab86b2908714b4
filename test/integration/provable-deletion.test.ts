import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Image } from '../../src/entities/image.entity';
import { PushJob } from '../../src/entities/push-job.entity';
import { KeyWrapper } from '../../src/services/cipher/key-wrapper';
import { SegmentDecryptor } from '../../src/services/cipher/segment-decryptor';
import { NEW_IMAGE_CIPHER, sealedSize, segmentBytesOf, SEGMENT_BYTES } from '../../src/services/cipher/segment-format';
import { ApiClient, httpGet, sendGroupImage } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { aliceAndBob, downloadUrlOf } from '../support/fixtures';
import { describeEachStack, TestStack } from '../support/stack';
import { eventually } from '../support/wait';

const MASTER = randomBytes(32);

function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function head(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .request(url, { method: 'HEAD', headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        res.on('error', reject);
      })
      .on('error', reject)
      .end();
  });
}

/** A GET that keeps what arrived when the server cuts the connection. */
function getPartial(url: string): Promise<{ status: number; body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        const done = (complete: boolean) => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete });
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(res.complete));
        res.on('error', () => done(false));
        res.on('aborted', () => done(false));
      })
      // Cut before the headers left: nothing arrived.
      .on('error', () => resolve({ status: 0, body: Buffer.alloc(0), complete: false }));
  });
}

describeEachStack(
  'provable deletion: encryption at rest with per-image keys',
  (stack: () => TestStack) => {
    let api: ApiClient;
    let alice: TestUser;
    let bob: TestUser;

    before(async () => ({ api, alice, bob } = await aliceAndBob(stack())));

    const db = () => stack().server.container.db;
    const imageOf = (key: string) => db().getRepository(Image).findOneByOrFail({ objectName: key });
    const rawObject = async (name: string) => buffer(await stack().server.container.blobs.get(name));
    const open = async (sealed: Buffer, wrapped: string, name: string, size: number, cipher: string) => {
      const d = new SegmentDecryptor(new KeyWrapper(MASTER).unwrap(wrapped, name), size, 0, size - 1, segmentBytesOf(cipher));
      d.end(sealed);
      return buffer(d);
    };

    async function send(bytes: Buffer, size: number | null = bytes.length) {
      const sent = await api.sendImage(alice.token, bob.uid, bytes, size);
      expect(sent.errors).to.equal(undefined);
      const key = sent.data!.sendImage.messageKey;
      const url = await downloadUrlOf(api, bob, key);
      return { key, url };
    }

    it('the store holds only ciphertext of the sealed length; the receiver downloads the image', async () => {
      for (const size of [5_000, 600_000, 5 * 1024 * 1024]) {
        for (const declared of [true, false]) {
          const bytes = jpegBytes(size);
          const { key, url } = await send(bytes, declared ? bytes.length : null);
          const raw = await rawObject(key);
          const cipher = NEW_IMAGE_CIPHER;
          expect(raw.length).to.equal(sealedSize(size, segmentBytesOf(cipher)));
          expect(raw.includes(bytes.subarray(20, 52))).to.equal(false);
          const image = await imageOf(key);
          expect(image).to.include({ cipher, size, filetype: 'image/jpeg' });
          expect(image.wrappedKey).to.be.a('string');
          const got = await httpGet(url);
          expect(got.status).to.equal(200);
          expect(got.body.equals(bytes)).to.equal(true);
        }
      }
    });

    it('confirming destroys the key in the same commit that ends the message: a copy of the blob taken before cannot be read', async () => {
      const bytes = jpegBytes(150_000);
      const { key } = await send(bytes);
      // A replica, a backup, a delete that failed: the raw object as the S3 server holds it.
      const copy = await rawObject(key);
      const before = await imageOf(key);
      // With the key (as it was before deletion) the copy opens: the test below is not vacuous.
      expect((await open(copy, before.wrappedKey!, key, bytes.length, before.cipher!)).equals(bytes)).to.equal(true);

      const confirmed = await api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: key }, bob.token);
      expect(confirmed.data!.confirmDownload.exist).to.equal(false);
      const after = await imageOf(key);
      expect(after.wrappedKey).to.equal(null);
      expect(after.endedAt).to.be.instanceOf(Date);
      expect(await stack().blobNames()).not.to.include(key);
      // Nothing the server keeps opens the copy now: not the master key, not the database.
      const rows = await db().query('SELECT wrapped_key FROM image WHERE object_name = ?', [key]);
      expect(rows[0].wrapped_key).to.equal(null);
      const d = new SegmentDecryptor(
        { key: MASTER, prefix: Buffer.alloc(7) },
        bytes.length,
        0,
        bytes.length - 1,
        segmentBytesOf(before.cipher!),
      );
      d.end(copy);
      await buffer(d).then(
        () => expect.fail('opened without the image key'),
        (e) => expect(String(e)).to.match(/authenticate/),
      );
    });

    it('a group send shares one key, destroyed only when the last member message ends', async () => {
      const carol = await registerUser(api);
      for (const other of [bob, carol]) {
        for (const [from, to] of [
          [alice, other],
          [other, alice],
        ]) {
          await api.gql('mutation($u: Int!) { requestFriend(uid: $u) { state } }', { u: to.uid }, from.token);
        }
      }
      const group = await api.gql(
        'mutation($u: [Int!]!) { createGroup(name: "g", memberUids: $u) { id } }',
        { u: [bob.uid, carol.uid] },
        alice.token,
      );
      const bytes = jpegBytes(80_000);
      const sent = await sendGroupImage(api, alice.token, group.data!.createGroup.id, bytes);
      expect(sent.errors).to.equal(undefined);
      const keys = sent.data!.sendGroupImage as { id: number; messageKey: string; receiverUid: number }[];
      const tokenOf = (uid: number) => (uid === bob.uid ? bob.token : carol.token);
      const imageId = (await db().query('SELECT image_id FROM message WHERE message_key = ?', [keys[0].messageKey]))[0].image_id;
      const wrapped = async () => (await db().getRepository(Image).findOneByOrFail({ id: imageId })).wrappedKey;
      expect(await wrapped()).to.be.a('string');
      const confirm = (k: { messageKey: string; receiverUid: number }) =>
        api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: k.messageKey }, tokenOf(k.receiverUid));
      await confirm(keys[0]);
      expect(await wrapped()).to.be.a('string');
      const url = (
        await api.gql(
          'query($k: String!) { image(messageKey: $k) { downloadUrl } }',
          { k: keys[1].messageKey },
          tokenOf(keys[1].receiverUid),
        )
      ).data!.image.downloadUrl;
      expect((await httpGet(url)).body.equals(bytes)).to.equal(true);
      const receiptsFor = async () =>
        (await db().getRepository(PushJob).findBy({ receiverUid: alice.uid, kind: 'image_destroyed' }))
          .map((j) => JSON.parse(j.payload))
          .filter((p) => keys.some((k) => k.id === p.message_id));
      expect(await receiptsFor()).to.have.length(0);
      await confirm(keys[1]);
      expect(await wrapped()).to.equal(null);
      // Every member's message gets its receipt when the shared key goes, at the same instant.
      const receipts = await receiptsFor();
      expect(receipts.map((p) => p.message_id).sort()).to.deep.equal(keys.map((k) => k.id).sort());
      expect(new Set(receipts.map((p) => p.destroyed_at)).size).to.equal(1);
    });

    it('the sweeper destroys the key of an expired image in the transaction that ends it', async () => {
      const { key } = await send(jpegBytes(2_000));
      await db()
        .getRepository(Image)
        .update({ objectName: key }, { expiresAt: new Date(Date.now() - 1000) });
      await stack().server.container.lifecycle.sweep();
      expect((await imageOf(key)).wrappedKey).to.equal(null);
      expect(await stack().blobNames()).not.to.include(key);
    });

    it('a tampered segment in the store aborts the download instead of serving altered bytes', async () => {
      const bytes = jpegBytes(200_000);
      const { key, url } = await send(bytes);
      const raw = await rawObject(key);
      raw[70_000] ^= 0xff; // inside the second segment
      const blobs = stack().server.container.blobs;
      await blobs.put(key, Readable.from([raw]), { size: raw.length, contentType: 'application/octet-stream' });
      const got = await getPartial(url);
      // The first segment may have been sent; the altered one never is, and the body is cut short.
      expect(got.complete).to.equal(false);
      expect(got.body.length).to.be.below(bytes.length);
      expect(got.body.equals(bytes.subarray(0, got.body.length))).to.equal(true);
    });

    describe('one-time download URLs', () => {
      const urlOf = (key: string) => downloadUrlOf(api, bob, key);

      it('an interrupted download resumes with Range within its URL; once complete the URL answers 410, and a new one works', async () => {
        // Larger than what loopback's socket buffers hold, so the server cannot finish before the drop.
        const bytes = jpegBytes(16 * 1024 * 1024);
        const { key, url } = await send(bytes);
        // The connection drops after some bytes have arrived.
        const partial = await new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          let got = 0;
          const req = http.get(url, (res) => {
            res.on('data', (c: Buffer) => {
              chunks.push(c);
              got += c.length;
              if (got >= 100_000) {
                req.destroy();
                resolve(Buffer.concat(chunks));
              }
            });
            res.on('end', () => reject(new Error('the whole image arrived')));
          });
          req.on('error', () => undefined);
        });
        expect(partial.equals(bytes.subarray(0, partial.length))).to.equal(true);
        // The server counts what it sent, and what was still in flight when the connection
        // dropped is asked for again. Up to one segment of that the URL serves; past it (a slow
        // client, full socket buffers) it answers 410 and a new URL, asked for as the app does,
        // serves the rest.
        const range = { range: `bytes=${partial.length}-` };
        let resumed = url;
        let rest = await get(resumed, range);
        if (rest.status === 410) rest = await get((resumed = await urlOf(key)), range);
        expect(rest.status).to.equal(206);
        expect(rest.headers['content-range']).to.equal(`bytes ${partial.length}-${bytes.length - 1}/${bytes.length}`);
        expect(Buffer.concat([partial, rest.body]).equals(bytes)).to.equal(true);
        const grantOf = (u: string) => Number(u.split('/').pop()!.split('.')[2]);
        for (const u of [url, resumed]) {
          const [{ served }] = await db().query('SELECT served_bytes AS served FROM download_grant WHERE id = ?', [grantOf(u)]);
          expect(Number(served)).to.be.at.most(bytes.length + SEGMENT_BYTES);
        }
        const again = await get(resumed);
        expect(again.status).to.equal(410);
        expect(JSON.parse(again.body.toString()).errors[0].extensions.code).to.equal('GONE');
        const fresh = await get(await urlOf(key));
        expect(fresh.status).to.equal(200);
        expect(fresh.body.equals(bytes)).to.equal(true);
      });

      it('two downloads racing on one URL: exactly one gets the whole image, the other a cut-short body or 410', async () => {
        const bytes = jpegBytes(4 * 1024 * 1024);
        const { url } = await send(bytes);
        const got = await Promise.all([getPartial(url), getPartial(url), getPartial(url)]);
        const whole = got.filter((g) => g.status === 200 && g.complete && g.body.equals(bytes));
        expect(whole, 'complete copies').to.have.length(1);
        for (const g of got.filter((x) => !whole.includes(x))) {
          if (g.status === 410) continue;
          expect(g.complete).to.equal(false);
          expect(g.body.length).to.be.below(bytes.length);
        }
      });

      it('ranges in the middle are served without using the URL up; an impossible range is 416', async () => {
        const bytes = jpegBytes(600_000);
        const { url } = await send(bytes);
        // Across a segment boundary: the two segments are read and opened, only the range is sent.
        const [a, b] = [SEGMENT_BYTES - 6, SEGMENT_BYTES + 1_000];
        const mid = await get(url, { range: `bytes=${a}-${b}` });
        expect(mid.status).to.equal(206);
        expect(mid.body.equals(bytes.subarray(a, b + 1))).to.equal(true);
        const bad = await get(url, { range: 'bytes=600000-' });
        expect(bad.status).to.equal(416);
        expect(bad.headers['content-range']).to.equal('bytes */600000');
        expect((await get(url)).body.equals(bytes)).to.equal(true);
        expect((await get(url)).status).to.equal(410);
      });

      it('HEAD answers what GET would, reads and counts nothing, and leaves the URL live', async () => {
        const bytes = jpegBytes(600_000);
        const { url } = await send(bytes);
        const reads = stack().server.container.blobs;
        const gets: string[] = [];
        const realGet = reads.get.bind(reads);
        reads.get = (name, range) => (gets.push(name), realGet(name, range));
        try {
          for (let i = 0; i < 3; i++) {
            const whole = await head(url);
            expect(whole.status).to.equal(200);
            expect(whole.headers['content-length']).to.equal(String(bytes.length));
            expect(whole.headers['content-type']).to.equal('image/jpeg');
            expect(whole.headers['accept-ranges']).to.equal('bytes');
          }
          const part = await head(url, { range: 'bytes=10-19' });
          expect(part.status).to.equal(206);
          expect(part.headers['content-range']).to.equal(`bytes 10-19/${bytes.length}`);
          expect(part.headers['content-length']).to.equal('10');
          const bad = await head(url, { range: `bytes=${bytes.length}-` });
          expect(bad.status).to.equal(416);
          expect(bad.headers['content-range']).to.equal(`bytes */${bytes.length}`);
          expect(gets, 'blobs read by HEAD').to.deep.equal([]);
        } finally {
          reads.get = realGet;
        }
        const grant = Number(url.split('/').pop()!.split('.')[2]);
        const [{ served }] = await db().query('SELECT served_bytes AS served FROM download_grant WHERE id = ?', [grant]);
        expect(Number(served)).to.equal(0);
        // The URL still serves its one download; then HEAD says it is used up, as GET does.
        const got = await get(url);
        expect(got.status).to.equal(200);
        expect(got.body.equals(bytes)).to.equal(true);
        expect((await head(url)).status).to.equal(410);
        const forged = url.replace(
          /\.([A-Za-z0-9_-])([A-Za-z0-9_-]{42})$/,
          (_, c: string, rest: string) => `.${c === 'A' ? 'B' : 'A'}${rest}`,
        );
        expect(forged).not.to.equal(url);
        expect((await head(forged)).status).to.equal(403);
      });

      it('a fully downloaded image nobody confirms is confirmed AUTO_CONFIRM_SECONDS after its download', async () => {
        const bytes = jpegBytes(10_000);
        const { key, url } = await send(bytes);
        const unread = await send(jpegBytes(1_000));
        expect((await get(url)).status).to.equal(200);
        await eventually(async () => expect((await imageOf(key)).wrappedKey).to.equal(null), 10_000);
        const m = await api.gql('query($k: String!) { image(messageKey: $k) { exist } }', { k: key }, bob.token);
        expect(m.data!.image.exist).to.equal(false);
        expect(await stack().blobNames()).not.to.include(key);
        expect((await imageOf(unread.key)).wrappedKey).to.be.a('string');
      });
    });

    it('a server started with another ENCRYPTION_KEY refuses to start, naming the variable', async () => {
      await stack().server.stop();
      const config = stack().config;
      config.encryptionKey = randomBytes(32);
      try {
        await stack()
          .restart()
          .then(
            () => expect.fail('started with the wrong key'),
            (e: Error) => expect(e.message).to.match(/ENCRYPTION_KEY is not the key this database's images were encrypted with/),
          );
      } finally {
        config.encryptionKey = MASTER;
        await stack().restart();
      }
      api = new ApiClient(stack().url);
      const { url } = await send(jpegBytes(1_000));
      expect((await httpGet(url)).status).to.equal(200);
    });
  },
  { ENCRYPTION_KEY: MASTER.toString('base64'), AUTO_CONFIRM_SECONDS: '1' },
);
