import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { ServerSecret } from '../../src/entities/server-secret.entity';
import { User } from '../../src/entities/user.entity';
import { DownloadTokens } from '../../src/services/download-tokens';
import { ApiClient, GqlResult, httpGet, MESSAGE_FIELDS, SentMessage } from '../support/client';
import { jpegBytes, nextPhone, pngBytes, registerUser, requestCode, TestUser } from '../support/factories';
import { downloadUrlOf, someUsers } from '../support/fixtures';
import { describeEachStack, TestStack } from '../support/stack';
import { eventually } from '../support/wait';

const MiB = 1024 * 1024;
const MAX = 8 * MiB;

describeEachStack(
  'core path: register, send, fetch, download, confirm',
  (stack: () => TestStack) => {
    let api: ApiClient;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;

    before(async () => {
      api = new ApiClient(stack().url);
      [alice, bob, carol] = await someUsers(api, 3);
    });

    const rows = (entity: typeof Message | typeof Image) =>
      stack()
        .server.container.db.getRepository(entity as typeof Message)
        .count();
    const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

    /** Runs a send that must fail, and checks it left no row and no blob behind. */
    async function expectNothingStored(send: () => Promise<GqlResult>, code: string): Promise<GqlResult> {
      const [messagesBefore, imagesBefore, blobsBefore] = [await rows(Message), await rows(Image), await stack().blobNames()];
      const res = await send();
      expect(codeOf(res), JSON.stringify(res.errors)).to.equal(code);
      expect(await rows(Message)).to.equal(messagesBefore);
      expect(await rows(Image)).to.equal(imagesBefore);
      // Some S3 servers (s3rver) keep a cut-short PUT for a moment; the store deletes it again.
      // Compared by name: an earlier test's late leftover may vanish meanwhile, which is no new blob.
      await eventually(async () => expect((await stack().blobNames()).filter((n) => !blobsBefore.includes(n))).to.deep.equal([]));
      return res;
    }

    describe('register', () => {
      it('creates a user and returns uid, a 256-bit ukey shown once, the phone hash and the user', async () => {
        const phone = nextPhone();
        const verificationCode = await requestCode(api, phone.regionNum, phone.phoneNum);
        const res = await api.gql(
          'mutation($i: RegisterInput!) { register(input: $i) { uid ukey phoneHash user { uid nickname regionNum phoneHash regTime } } }',
          { i: { cid: 'cid-0001', ...phone, nickname: '  小明 Ming  ', verificationCode } },
        );
        const r = res.data!.register;
        expect(r.ukey).to.match(/^[A-Za-z0-9_-]{43}$/);
        expect(r.phoneHash).to.equal(createHash('sha256').update(`+86${phone.phoneNum}`).digest('hex'));
        expect(r.user).to.include({ uid: r.uid, nickname: '小明 Ming', regionNum: '86', phoneHash: r.phoneHash });
        expect(JSON.stringify(res)).not.to.contain(phone.phoneNum);
        const row = await stack().server.container.db.getRepository(User).findOneByOrFail({ uid: r.uid });
        expect(row.ukeyHash).to.equal(createHash('sha256').update(r.ukey).digest('hex'));
        expect(row.ukeyHash).not.to.contain(r.ukey);
      });

      it('normalises a number written with spaces, dashes and a + on the calling code', async () => {
        const phone = nextPhone();
        const spaced = `${phone.phoneNum.slice(0, 3)} ${phone.phoneNum.slice(3, 7)}-${phone.phoneNum.slice(7)}`;
        const verificationCode = await requestCode(api, '+86', spaced);
        const res = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { phoneHash user { regionNum } } }', {
          i: { cid: 'c1', regionNum: '+86', phoneNum: spaced, nickname: 'n', verificationCode },
        });
        expect(res.data!.register.phoneHash).to.equal(createHash('sha256').update(`+86${phone.phoneNum}`).digest('hex'));
      });

      it('moves a known phone to the new device: new ukey and cid, the old ukey stops working', async () => {
        const user = await registerUser(api);
        const again = await registerUser(api, {
          regionNum: user.regionNum,
          phoneNum: user.phoneNum,
          cid: 'new-device-cid',
          nickname: 'moved',
        });
        expect(again.uid).to.equal(user.uid);
        expect(again.ukey).not.to.equal(user.ukey);
        expect(codeOf(await api.gql('{ me { uid } }', {}, user.token))).to.equal('UNAUTHENTICATED');
        expect((await api.gql('{ me { uid nickname } }', {}, again.token)).data!.me).to.deep.equal({ uid: user.uid, nickname: 'moved' });
        const row = await stack().server.container.db.getRepository(User).findOneByOrFail({ uid: user.uid });
        expect(row.cid).to.equal('new-device-cid');
      });

      for (const [name, input, field] of [
        ['an invalid phone number', { phoneNum: '12345' }, 'phoneNum'],
        ['a number that is not valid for the region', { regionNum: '44', phoneNum: '13900000000' }, 'phoneNum'],
        ['letters in the number', { phoneNum: '139abc00000' }, 'phoneNum'],
        ['an unknown calling code', { regionNum: '9999' }, 'regionNum'],
        ['a blank nickname', { nickname: '   ' }, 'nickname'],
        ['a nickname of 65 characters', { nickname: 'x'.repeat(65) }, 'nickname'],
        ['a nickname with control characters', { nickname: 'a\u0000b' }, 'nickname'],
        ['an empty cid', { cid: '' }, 'cid'],
      ] as const) {
        it(`refuses ${name} with BAD_USER_INPUT`, async () => {
          const res = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { uid } }', {
            i: { cid: 'c1', ...nextPhone(), nickname: 'ok', verificationCode: '123456', ...input },
          });
          expect(codeOf(res)).to.equal('BAD_USER_INPUT');
          expect(res.errors![0].extensions!.field).to.equal(field);
        });
      }

      it('accepts a nickname of 64 characters in any script', async () => {
        const nickname = '名'.repeat(32) + 'é'.repeat(31) + '😀';
        const phone = nextPhone();
        const verificationCode = await requestCode(api, phone.regionNum, phone.phoneNum);
        const res = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { user { nickname } } }', {
          i: { cid: 'c1', ...phone, nickname, verificationCode },
        });
        expect(res.data!.register.user.nickname).to.equal(nickname);
      });
    });

    describe('authentication', () => {
      it('me answers the token holder', async () => {
        const res = await api.gql('{ me { uid nickname phoneHash } }', {}, alice.token);
        expect(res.data!.me).to.deep.equal({ uid: alice.uid, nickname: alice.nickname, phoneHash: alice.phoneHash });
      });

      for (const [name, token] of [
        ['no token', undefined],
        ['a malformed token', 'not-a-token'],
        ['a wrong ukey', () => `${alice.phoneHash}.${randomBytes(32).toString('base64url')}`],
        ['an unknown phone hash', () => `${'0'.repeat(64)}.${alice.ukey}`],
        ["another user's ukey", () => `${alice.phoneHash}.${bob.ukey}`],
      ] as const) {
        it(`answers UNAUTHENTICATED for ${name}`, async () => {
          const t = typeof token === 'function' ? token() : token;
          expect(codeOf(await api.gql('{ me { uid } }', {}, t))).to.equal('UNAUTHENTICATED');
          expect(codeOf(await api.gql('mutation { updateCid(cid: "x1") { uid } }', {}, t))).to.equal('UNAUTHENTICATED');
        });
      }

      it('updateCid changes the push client id of the device', async () => {
        const user = await registerUser(api);
        const res = await api.gql('mutation { updateCid(cid: "fresh-cid-42") { uid } }', {}, user.token);
        expect(res.data!.updateCid.uid).to.equal(user.uid);
        const row = await stack().server.container.db.getRepository(User).findOneByOrFail({ uid: user.uid });
        expect(row.cid).to.equal('fresh-cid-42');
        expect(codeOf(await api.gql('mutation { updateCid(cid: "  ") { uid } }', {}, user.token))).to.equal('BAD_USER_INPUT');
      });
    });

    describe('sendImage', () => {
      it('streams a JPEG into the store and records its size, type and SHA-256', async () => {
        const bytes = jpegBytes(300 * 1024);
        const res = await api.sendImage(alice.token, bob.uid, bytes);
        const m = res.data!.sendImage;
        expect(m).to.include({ receiverUid: bob.uid, exist: true, filetype: 'image/jpeg', size: bytes.length, downloadUrl: null });
        expect(m.sender).to.deep.include({ uid: alice.uid, phoneHash: alice.phoneHash });
        expect(m.messageKey).to.match(/^[0-9a-f]{64}$/);
        expect(await stack().blobNames()).to.include(m.messageKey);
        const image = await stack().server.container.db.getRepository(Image).findOneByOrFail({ objectName: m.messageKey });
        expect(image.sha256).to.equal(createHash('sha256').update(bytes).digest('hex'));
        expect(image.expiresAt.getTime() - new Date(m.sendTime).getTime()).to.equal(stack().config.imageTtlSeconds * 1000);
      });

      for (const [label, size, declare] of [
        ['a small image without a declared size (one PUT)', 200 * 1024, false],
        ['a 7 MiB image without a declared size (multipart)', 7 * MiB, false],
        ['a 7 MiB image with its size declared (one streamed PUT)', 7 * MiB, true],
      ] as const) {
        it(`round-trips ${label} byte for byte`, async () => {
          const bytes = jpegBytes(size);
          const declared = declare ? bytes.length : null;
          const sent = (await api.sendImage(alice.token, bob.uid, bytes, declared)).data!.sendImage;
          const got = (
            await api.gql(`query($k: String!) { image(messageKey: $k) { ${MESSAGE_FIELDS} } }`, { k: sent.messageKey }, bob.token)
          ).data!.image as SentMessage;
          const download = await httpGet(got.downloadUrl!);
          expect(download.status).to.equal(200);
          expect(download.headers['content-type']).to.equal('image/jpeg');
          expect(Number(download.headers['content-length'])).to.equal(bytes.length);
          expect(download.body.equals(bytes)).to.equal(true);
        });
      }

      it('decides the type from the bytes, not from the name or the claimed type', async () => {
        const bytes = pngBytes(50_000);
        const res = await api.upload<{ sendImage: SentMessage }>({
          token: alice.token,
          query: 'mutation($r: Int!, $image: Upload!) { sendImage(receiverUid: $r, image: $image) { filetype } }',
          variables: { r: bob.uid },
          file: bytes,
          filename: 'photo.jpg',
          fileContentType: 'image/jpeg',
        });
        expect(res.data!.sendImage.filetype).to.equal('image/png');
      });

      it('refuses a file that is not an image with UNSUPPORTED_MEDIA_TYPE and keeps nothing', async () => {
        await expectNothingStored(
          () => api.sendImage(alice.token, bob.uid, Buffer.from('%PDF-1.7\n' + 'x'.repeat(20_000))),
          'UNSUPPORTED_MEDIA_TYPE',
        );
        await expectNothingStored(() => api.sendImage(alice.token, bob.uid, randomBytes(10_000), null), 'UNSUPPORTED_MEDIA_TYPE');
      });

      it('refuses an empty file', async () => {
        await expectNothingStored(() => api.sendImage(alice.token, bob.uid, Buffer.alloc(0), null), 'UNSUPPORTED_MEDIA_TYPE');
      });

      it('refuses an image over MAX_IMAGE_BYTES with PAYLOAD_TOO_LARGE and keeps nothing, whether or not its size is declared', async () => {
        const big = jpegBytes(MAX + 1);
        const res = await expectNothingStored(() => api.sendImage(alice.token, bob.uid, big, null), 'PAYLOAD_TOO_LARGE');
        expect(res.errors![0].extensions!.maxBytes).to.equal(MAX);
        await expectNothingStored(() => api.sendImage(alice.token, bob.uid, big), 'PAYLOAD_TOO_LARGE');
        // A declared size over the limit is refused before the image is read.
        await expectNothingStored(() => api.sendImage(alice.token, bob.uid, jpegBytes(1000), MAX + 1), 'PAYLOAD_TOO_LARGE');
      });

      it('accepts an image of exactly MAX_IMAGE_BYTES', async () => {
        const res = await api.sendImage(alice.token, bob.uid, jpegBytes(MAX), null);
        expect(res.data!.sendImage.size).to.equal(MAX);
      });

      it('refuses a declared size that does not match the bytes with BAD_USER_INPUT and keeps nothing', async () => {
        const bytes = jpegBytes(100_000);
        const short = await expectNothingStored(() => api.sendImage(alice.token, bob.uid, bytes, bytes.length + 10), 'BAD_USER_INPUT');
        expect(short.errors![0].extensions!.field).to.equal('size');
        await expectNothingStored(() => api.sendImage(alice.token, bob.uid, bytes, bytes.length - 10), 'BAD_USER_INPUT');
        await expectNothingStored(() => api.sendImage(alice.token, bob.uid, bytes, 0), 'BAD_USER_INPUT');
      });

      it('answers NOT_FOUND for an unknown receiver and keeps nothing', async () => {
        await expectNothingStored(() => api.sendImage(alice.token, 987654321, jpegBytes(10_000)), 'NOT_FOUND');
      });

      it('answers UNAUTHENTICATED without a valid token and keeps nothing', async () => {
        await expectNothingStored(() => api.sendImage('', bob.uid, jpegBytes(10_000)), 'UNAUTHENTICATED');
        await expectNothingStored(() => api.sendImage(`${alice.phoneHash}.${bob.ukey}`, bob.uid, jpegBytes(10_000)), 'UNAUTHENTICATED');
      });

      it('keeps CSRF prevention on: a multipart request without the preflight header is refused', async () => {
        const res = await api.upload({
          token: alice.token,
          query: 'mutation($r: Int!, $image: Upload!) { sendImage(receiverUid: $r, image: $image) { id } }',
          variables: { r: bob.uid },
          file: jpegBytes(1000),
          headers: { 'apollo-require-preflight': '' },
        });
        expect(res.status).to.equal(400);
        expect(res.data ?? null).to.equal(null);
        expect(res.errors![0].message).to.contain('Cross-Site Request Forgery');
      });

      it('answers a multipart request with two files as GraphQL JSON with BAD_USER_INPUT', async () => {
        const boundary = 'xyz';
        const body =
          `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n` +
          JSON.stringify({
            query:
              'mutation($a: Upload!, $b: Upload!) { a: sendImage(receiverUid: 1, image: $a) { id } b: sendImage(receiverUid: 1, image: $b) { id } }',
            variables: { a: null, b: null },
          }) +
          `\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.a"],"1":["variables.b"]}\r\n--${boundary}--\r\n`;
        const res = await fetch(`${stack().url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'apollo-require-preflight': 'true',
            authorization: `Bearer ${alice.token}`,
          },
          body,
        });
        expect(res.status).to.equal(400);
        const json = (await res.json()) as { errors: { extensions: { code: string } }[] };
        expect(json.errors[0].extensions.code).to.equal('BAD_USER_INPUT');
      });

      it('stores two concurrent uploads as two messages with their own bytes', async () => {
        const a = jpegBytes(2 * MiB);
        const b = pngBytes(3 * MiB);
        const [ra, rb] = await Promise.all([api.sendImage(alice.token, carol.uid, a), api.sendImage(bob.token, carol.uid, b, null)]);
        const [ma, mb] = [ra.data!.sendImage, rb.data!.sendImage];
        expect(ma.messageKey).not.to.equal(mb.messageKey);
        for (const [m, bytes] of [
          [ma, a],
          [mb, b],
        ] as const) {
          const got = (await api.gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: m.messageKey }, carol.token))
            .data!.image;
          expect((await httpGet(got.downloadUrl)).body.equals(bytes)).to.equal(true);
        }
      });
    });

    describe('image and images', () => {
      let first: SentMessage;
      let second: SentMessage;
      let fromCarol: SentMessage;
      let dave: TestUser;

      before(async () => {
        dave = await registerUser(api);
        first = (await api.sendImage(alice.token, dave.uid, jpegBytes(10_000))).data!.sendImage;
        fromCarol = (await api.sendImage(carol.token, dave.uid, jpegBytes(10_000))).data!.sendImage;
        second = (await api.sendImage(alice.token, dave.uid, pngBytes(10_000))).data!.sendImage;
      });

      it('image answers the receiver with a downloadUrl', async () => {
        const got = (
          await api.gql(`query($k: String!) { image(messageKey: $k) { ${MESSAGE_FIELDS} } }`, { k: first.messageKey }, dave.token)
        ).data!.image;
        expect(got).to.deep.include({ id: first.id, exist: true, filetype: 'image/jpeg', size: 10_000 });
        expect(got.downloadUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+\/download\//);
      });

      it('image answers NOT_FOUND to the sender, to anyone else and for an unknown key, alike', async () => {
        const q = 'query($k: String!) { image(messageKey: $k) { id } }';
        const answers = [
          await api.gql(q, { k: first.messageKey }, alice.token),
          await api.gql(q, { k: first.messageKey }, bob.token),
          await api.gql(q, { k: randomBytes(32).toString('hex') }, dave.token),
          await api.gql(q, { k: 'not-even-hex' }, dave.token),
        ];
        for (const a of answers) {
          expect(a.data).to.equal(null);
          expect(a.errors![0]).to.deep.include({ message: 'Message not found' });
          expect(a.errors![0].extensions).to.deep.equal({ code: 'NOT_FOUND' });
        }
      });

      it('images lists the pending images oldest first, optionally from one sender', async () => {
        const all = (await api.gql('{ images { id } }', {}, dave.token)).data!.images.map((m: { id: number }) => m.id);
        expect(all).to.deep.equal([first.id, fromCarol.id, second.id]);
        const fromAlice = (await api.gql('query($h: String) { images(senderPhoneHash: $h) { id } }', { h: alice.phoneHash }, dave.token))
          .data!.images;
        expect(fromAlice.map((m: { id: number }) => m.id)).to.deep.equal([first.id, second.id]);
        const none = (await api.gql('query($h: String) { images(senderPhoneHash: $h) { id } }', { h: bob.phoneHash }, dave.token)).data!
          .images;
        expect(none).to.deep.equal([]);
      });

      it('images refuses a malformed sender hash', async () => {
        const res = await api.gql('{ images(senderPhoneHash: "ABC") { id } }', {}, dave.token);
        expect(codeOf(res)).to.equal('BAD_USER_INPUT');
      });
    });

    describe('download URLs and confirmDownload', () => {
      let eve: TestUser;
      before(async () => {
        eve = await registerUser(api);
      });

      async function sendAndGetUrl(bytes = jpegBytes(20_000)) {
        const m = (await api.sendImage(alice.token, eve.uid, bytes)).data!.sendImage;
        const url = await downloadUrlOf(api, eve, m.messageKey);
        return { m, url, bytes };
      }

      it('refuses a tampered URL with 403', async () => {
        const { url } = await sendAndGetUrl();
        const sig = url.slice(-43);
        const forged = url.slice(0, -43) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
        expect((await httpGet(forged)).status).to.equal(403);
        const otherKey = url.replace(/download\/[0-9a-f]{64}/, `download/${randomBytes(32).toString('hex')}`);
        expect((await httpGet(otherKey)).status).to.equal(403);
        expect((await httpGet(`${stack().url}/download/garbage`)).status).to.equal(403);
      });

      it('refuses an expired URL with 403', async () => {
        const { m } = await sendAndGetUrl();
        const secret = await stack().server.container.db.getRepository(ServerSecret).findOneByOrFail({ name: 'download-url-hmac' });
        const expired = new DownloadTokens(Buffer.from(secret.value, 'base64')).mint(m.messageKey, new Date(Date.now() - 1000), 1);
        const res = await httpGet(`${stack().url}/download/${expired}`);
        expect(res.status).to.equal(403);
        expect(JSON.parse(res.body.toString()).errors[0].extensions.code).to.equal('FORBIDDEN');
      });

      it('confirmDownload deletes the blob, ends the message and the URL; a second confirm answers the same', async () => {
        const { m, url } = await sendAndGetUrl();
        expect(await stack().blobNames()).to.include(m.messageKey);
        const q = 'mutation($k: String!) { confirmDownload(messageKey: $k) { id exist downloadUrl } }';
        const once = await api.gql(q, { k: m.messageKey }, eve.token);
        expect(once.data!.confirmDownload).to.deep.equal({ id: m.id, exist: false, downloadUrl: null });
        expect(await stack().blobNames()).not.to.include(m.messageKey);
        expect((await httpGet(url)).status).to.equal(404);
        const twice = await api.gql(q, { k: m.messageKey }, eve.token);
        expect(twice.data!.confirmDownload).to.deep.equal({ id: m.id, exist: false, downloadUrl: null });
        const after = (await api.gql('query($k: String!) { image(messageKey: $k) { exist downloadUrl } }', { k: m.messageKey }, eve.token))
          .data!.image;
        expect(after).to.deep.equal({ exist: false, downloadUrl: null });
        const pending = (await api.gql('{ images { id } }', {}, eve.token)).data!.images.map((x: { id: number }) => x.id);
        expect(pending).not.to.include(m.id);
        const row = await stack().server.container.db.getRepository(Message).findOneByOrFail({ id: m.id });
        expect(row.endReason).to.equal('confirmed');
        expect(row.endedAt).to.be.instanceOf(Date);
      });

      it('confirmDownload by anyone but the receiver answers NOT_FOUND and keeps the image', async () => {
        const { m, url, bytes } = await sendAndGetUrl();
        const q = 'mutation($k: String!) { confirmDownload(messageKey: $k) { id } }';
        expect(codeOf(await api.gql(q, { k: m.messageKey }, alice.token))).to.equal('NOT_FOUND');
        expect(codeOf(await api.gql(q, { k: m.messageKey }, bob.token))).to.equal('NOT_FOUND');
        expect(codeOf(await api.gql(q, { k: m.messageKey }))).to.equal('UNAUTHENTICATED');
        expect((await httpGet(url)).body.equals(bytes)).to.equal(true);
      });

      it('two concurrent confirms of one message both succeed and delete it once', async () => {
        const { m } = await sendAndGetUrl();
        const q = 'mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }';
        const [a, b] = await Promise.all([api.gql(q, { k: m.messageKey }, eve.token), api.gql(q, { k: m.messageKey }, eve.token)]);
        expect(a.data!.confirmDownload.exist).to.equal(false);
        expect(b.data!.confirmDownload.exist).to.equal(false);
        const image = await stack().server.container.db.getRepository(Image).findOneByOrFail({ objectName: m.messageKey });
        expect(image.blobDeletedAt).to.be.instanceOf(Date);
      });
    });
  },
  { MAX_IMAGE_BYTES: String(MAX) },
);
