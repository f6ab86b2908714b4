import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { Image } from '../../src/entities/image.entity';
import { PushJob } from '../../src/entities/push-job.entity';
import pino from 'pino';
import { TypeormImageRepository } from '../../src/repositories/image.typeorm-repository';
import { LifecycleService } from '../../src/services/lifecycle.service';
import { receiptJobs } from '../../src/services/receipts';
import { ApiClient, httpGet } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { aliceAndBob, downloadUrlOf } from '../support/fixtures';
import { describeEachStack, TestStack } from '../support/stack';

type Jwk = { kty: string; crv: string; x: string };

/** What an app does with a receipt: rebuild the signed string from the push and check it with the published key. */
function receiptHolds(jwk: Jwk, push: { message_id: number; reason: string; destroyed_at: string; receipt: string }): boolean {
  const signed = `glimpse-receipt-v1|${push.message_id}|${push.reason}|${push.destroyed_at}`;
  return verify(null, Buffer.from(signed), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(push.receipt, 'base64url'));
}

describeEachStack('provable deletion: ttlSeconds, sentImages, receipts, screenshots', (stack: () => TestStack) => {
  let api: ApiClient;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => ({ api, alice, bob } = await aliceAndBob(stack())));

  const db = () => stack().server.container.db;
  const pushesTo = async (uid: number, kind: string) =>
    (
      await db()
        .getRepository(PushJob)
        .find({ where: { receiverUid: uid, kind }, order: { id: 'ASC' } })
    ).map((j) => JSON.parse(j.payload));
  const sentImages = async () =>
    (await api.gql('{ sentImages { id receiver { uid } sendTime status downloadedAt destroyedAt screenshotAt } }', {}, alice.token)).data!
      .sentImages as {
      id: number;
      status: string;
      downloadedAt: string | null;
      destroyedAt: string | null;
      screenshotAt: string | null;
      receiver: { uid: number };
    }[];
  const statusOf = async (id: number) => (await sentImages()).find((s) => s.id === id)!;
  const confirm = (key: string) => api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: key }, bob.token);

  async function send(ttlSeconds?: number) {
    const sent = await api.upload<{ sendImage: { id: number; messageKey: string } }>({
      token: alice.token,
      query: 'mutation($r: Int!, $image: Upload!, $t: Int) { sendImage(receiverUid: $r, image: $image, ttlSeconds: $t) { id messageKey } }',
      variables: { r: bob.uid, t: ttlSeconds ?? null },
      file: jpegBytes(3_000),
    });
    return sent;
  }

  it('a viewed image gets a receipt that verifies with the published JWK; a modified one does not', async () => {
    const jwk = JSON.parse((await httpGet(`${stack().url}/.well-known/glimpse-receipt-key`)).body.toString()) as Jwk;
    expect(Object.keys(jwk).sort()).to.deep.equal(['crv', 'kty', 'x']);
    expect(jwk).to.include({ kty: 'OKP', crv: 'Ed25519' });
    const m = (await send()).data!.sendImage;
    await confirm(m.messageKey);
    const [push] = (await pushesTo(alice.uid, 'image_destroyed')).filter((p) => p.message_id === m.id);
    expect(Object.keys(push).sort()).to.deep.equal(['destroyed_at', 'event', 'message_id', 'reason', 'receipt']);
    expect(push).to.include({ event: 'image_destroyed', message_id: m.id, reason: 'viewed' });
    expect(new Date(push.destroyed_at).toISOString()).to.equal(push.destroyed_at);
    expect(receiptHolds(jwk, push)).to.equal(true);
    expect(receiptHolds(jwk, { ...push, reason: 'expired' })).to.equal(false);
    expect(receiptHolds(jwk, { ...push, message_id: m.id + 1 })).to.equal(false);
    expect(receiptHolds(jwk, { ...push, destroyed_at: new Date(Date.parse(push.destroyed_at) + 1).toISOString() })).to.equal(false);
    const status = await statusOf(m.id);
    expect(status).to.include({ status: 'VIEWED', destroyedAt: push.destroyed_at });
  });

  it('sentImages shows PENDING, DOWNLOADED, then EXPIRED with a receipt saying expired', async () => {
    const m = (await send()).data!.sendImage;
    expect(await statusOf(m.id)).to.include({ status: 'PENDING', downloadedAt: null, destroyedAt: null });
    const url = await downloadUrlOf(api, bob, m.messageKey);
    expect((await httpGet(url)).status).to.equal(200);
    const downloaded = await statusOf(m.id);
    expect(downloaded.status).to.equal('DOWNLOADED');
    expect(downloaded.downloadedAt).to.be.a('string');
    await db()
      .getRepository(Image)
      .update({ objectName: m.messageKey }, { expiresAt: new Date(Date.now() - 1000) });
    await stack().server.container.lifecycle.sweep();
    const expired = await statusOf(m.id);
    expect(expired.status).to.equal('EXPIRED');
    const [push] = (await pushesTo(alice.uid, 'image_destroyed')).filter((p) => p.message_id === m.id);
    expect(push).to.include({ reason: 'expired', destroyed_at: expired.destroyedAt });
    const jwk = stack().server.container.receipts.jwk();
    expect(receiptHolds(jwk, push)).to.equal(true);
  });

  it('an image whose blob went missing ends with its key destroyed and a receipt saying expired', async () => {
    const m = (await send()).data!.sendImage;
    await stack().server.container.blobs.delete(m.messageKey);
    const lifecycle = new LifecycleService(
      { images: new TypeormImageRepository(db()), blobs: stack().server.container.blobs, log: pino({ level: 'silent' }) },
      { orphanGraceMs: -60_000, batchSize: 10, leaseMs: 60_000, receipts: receiptJobs(stack().server.container.receipts) },
    );
    await lifecycle.collectOrphans();
    expect((await db().getRepository(Image).findOneByOrFail({ objectName: m.messageKey })).wrappedKey).to.equal(null);
    const [push] = (await pushesTo(alice.uid, 'image_destroyed')).filter((p) => p.message_id === m.id);
    expect(push).to.include({ reason: 'expired' });
    expect(receiptHolds(stack().server.container.receipts.jwk(), push)).to.equal(true);
    expect((await statusOf(m.id)).status).to.equal('EXPIRED');
  });

  it('ttlSeconds sets the lifetime between 60 s and IMAGE_TTL_SECONDS', async () => {
    const m = (await send(120)).data!.sendImage;
    const image = await db().getRepository(Image).findOneByOrFail({ objectName: m.messageKey });
    expect(image.expiresAt.getTime() - image.createdAt.getTime()).to.equal(120_000);
    for (const bad of [59, stack().config.imageTtlSeconds + 1]) {
      const refused = await send(bad);
      expect(refused.errors![0].extensions).to.include({ code: 'BAD_USER_INPUT', field: 'ttlSeconds' });
    }
  });

  it('reportScreenshot by the receiver is recorded, shown to the sender and pushed once; anyone else gets NOT_FOUND', async () => {
    const m = (await send()).data!.sendImage;
    const report = (token: string) => api.gql('mutation($k: String!) { reportScreenshot(messageKey: $k) }', { k: m.messageKey }, token);
    expect((await report(bob.token)).data!.reportScreenshot).to.equal(true);
    expect((await report(bob.token)).data!.reportScreenshot).to.equal(true);
    expect((await report(alice.token)).errors![0].extensions!.code).to.equal('NOT_FOUND');
    expect((await pushesTo(alice.uid, 'screenshot')).filter((p) => p.message_id === m.id)).to.deep.equal([
      { event: 'screenshot', message_id: m.id },
    ]);
    expect((await statusOf(m.id)).screenshotAt).to.be.a('string');
  });

  describe('public keys and sealed sends', () => {
    const x25519 = () => generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!;
    const b64 = (jwkX: string) => Buffer.from(jwkX, 'base64url').toString('base64');

    it('register takes a publicKey, setPublicKey replaces it, User.publicKey returns it; a malformed one is BAD_USER_INPUT', async () => {
      const first = b64(x25519());
      const carol = await registerUser(api, { publicKey: first });
      const me = async () => (await api.gql('{ me { publicKey } }', {}, carol.token)).data!.me.publicKey;
      expect(await me()).to.equal(first);
      const second = b64(x25519());
      const set = await api.gql('mutation($k: String!) { setPublicKey(publicKey: $k) { uid publicKey } }', { k: second }, carol.token);
      expect(set.data!.setPublicKey).to.deep.equal({ uid: carol.uid, publicKey: second });
      for (const bad of ['abc', Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64')]) {
        const refused = await api.gql('mutation($k: String!) { setPublicKey(publicKey: $k) { uid } }', { k: bad }, carol.token);
        expect(refused.errors![0].extensions).to.include({ code: 'BAD_USER_INPUT', field: 'publicKey' });
        expect(refused.errors![0].message).not.to.contain(bad);
      }
      expect(await me()).to.equal(second);
      const plain = await registerUser(api);
      expect((await api.gql('{ me { publicKey } }', {}, plain.token)).data!.me.publicKey).to.equal(null);
    });

    it('sealed: true stores bytes the server cannot read, as application/octet-stream, with the same size cap', async () => {
      const sealed = randomBytes(40_000);
      const sent = await api.upload<{ sendImage: { messageKey: string; filetype: string; size: number } }>({
        token: alice.token,
        query:
          'mutation($r: Int!, $image: Upload!, $s: Int) { sendImage(receiverUid: $r, image: $image, size: $s, sealed: true) { messageKey filetype size } }',
        variables: { r: bob.uid, s: sealed.length },
        file: sealed,
      });
      expect(sent.errors).to.equal(undefined);
      expect(sent.data!.sendImage).to.include({ filetype: 'application/octet-stream', size: sealed.length });
      const got = await api.gql(
        'query($k: String!) { image(messageKey: $k) { downloadUrl } }',
        { k: sent.data!.sendImage.messageKey },
        bob.token,
      );
      const download = await httpGet(got.data!.image.downloadUrl);
      expect(download.headers['content-type']).to.equal('application/octet-stream');
      expect(download.body.equals(sealed)).to.equal(true);
      // Without sealed the same bytes are not an image.
      const unsealed = await api.sendImage(alice.token, bob.uid, sealed);
      expect(unsealed.errors![0].extensions!.code).to.equal('UNSUPPORTED_MEDIA_TYPE');
      const tooBig = randomBytes(stack().config.maxImageBytes + 1);
      const refused = await api.upload({
        token: alice.token,
        query: 'mutation($r: Int!, $image: Upload!) { sendImage(receiverUid: $r, image: $image, sealed: true) { id } }',
        variables: { r: bob.uid },
        file: tooBig,
      });
      expect(refused.errors![0].extensions!.code).to.equal('PAYLOAD_TOO_LARGE');
    });
  });
});
