import { expect } from 'chai';
import { Readable } from 'node:stream';
import pino from 'pino';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { TypeormImageRepository } from '../../src/repositories/image.typeorm-repository';
import { LifecycleService } from '../../src/services/lifecycle.service';
import { ApiClient, httpGet } from '../support/client';
import { jpegBytes, TestUser } from '../support/factories';
import { aliceAndBob, downloadUrlOf } from '../support/fixtures';
import { describeEachStack, TestStack } from '../support/stack';

describeEachStack('view-once lifecycle: expiry sweep and orphan collection', (stack: () => TestStack) => {
  let api: ApiClient;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => ({ api, alice, bob } = await aliceAndBob(stack())));

  const db = () => stack().server.container.db;
  const lifecycle = (graceMs = 3_600_000) =>
    new LifecycleService(
      { images: new TypeormImageRepository(db()), blobs: stack().server.container.blobs, log: pino({ level: 'silent' }) },
      { orphanGraceMs: graceMs, batchSize: 3, leaseMs: 60_000 },
    );
  const imageOf = (key: string) => db().getRepository(Image).findOneByOrFail({ objectName: key });
  const messageOf = (key: string) => db().getRepository(Message).findOneByOrFail({ messageKey: key });
  /** Moves an image's expiry into the past, as if its lifetime had run out. */
  const expire = (key: string) =>
    db()
      .getRepository(Image)
      .update({ objectName: key }, { expiresAt: new Date(Date.now() - 1000) });

  async function send() {
    const m = (await api.sendImage(alice.token, bob.uid, jpegBytes(20_000))).data!.sendImage;
    const url = await downloadUrlOf(api, bob, m.messageKey);
    return { key: m.messageKey, id: m.id, url };
  }

  it('an expired image is not pending, not served and shows exist: false even before the sweeper runs', async () => {
    const { key, url } = await send();
    await expire(key);
    const got = (await api.gql('query($k: String!) { image(messageKey: $k) { exist downloadUrl } }', { k: key }, bob.token)).data!.image;
    expect(got).to.deep.equal({ exist: false, downloadUrl: null });
    const pending = (await api.gql('{ images { messageKey } }', {}, bob.token)).data!.images.map(
      (m: { messageKey: string }) => m.messageKey,
    );
    expect(pending).not.to.include(key);
    expect((await httpGet(url)).status).to.equal(404);
  });

  it('the sweeper ends expired messages (reason expired) and deletes their blobs in batches', async () => {
    const sent = [];
    for (let i = 0; i < 7; i++) sent.push(await send());
    const keep = await send();
    for (const s of sent) await expire(s.key);
    const result = await lifecycle().sweep();
    expect(result.deleted).to.be.at.least(7);
    const names = await stack().blobNames();
    for (const s of sent) {
      expect(names).not.to.include(s.key);
      const m = await messageOf(s.key);
      expect(m).to.include({ exist: false, endReason: 'expired' });
      expect((await imageOf(s.key)).blobDeletedAt).to.be.instanceOf(Date);
    }
    expect(names).to.include(keep.key);
    expect((await messageOf(keep.key)).exist).to.equal(true);
    expect((await lifecycle().sweep()).deleted).to.equal(0);
  });

  it('a confirmed image is never ended again as expired', async () => {
    const { key } = await send();
    await api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: key }, bob.token);
    await expire(key);
    await lifecycle().sweep();
    expect((await messageOf(key)).endReason).to.equal('confirmed');
  });

  it('deletes the blob of an image whose last message ended but whose delete failed', async function () {
    const { key } = await send();
    // As if the confirm's own delete had failed a while ago: the message ended, the blob stayed.
    await db().getRepository(Message).update({ messageKey: key }, { exist: false, endReason: 'confirmed', endedAt: new Date() });
    await db()
      .getRepository(Image)
      .update({ objectName: key }, { endedAt: new Date(Date.now() - 120_000) });
    expect(await stack().blobNames()).to.include(key);
    await lifecycle().sweep();
    expect(await stack().blobNames()).not.to.include(key);
    expect((await imageOf(key)).blobDeletedAt).to.be.instanceOf(Date);
  });

  it('collects a blob with no row only after the grace period', async () => {
    const name = 'f'.repeat(64);
    await stack().server.container.blobs.put(name, Readable.from([jpegBytes(1000)]), { contentType: 'image/jpeg' });
    expect((await lifecycle(3_600_000).collectOrphans()).orphansDeleted).to.equal(0);
    expect(await stack().blobNames()).to.include(name);
    const result = await lifecycle(0).collectOrphans();
    expect(result.orphansDeleted).to.equal(1);
    expect(await stack().blobNames()).not.to.include(name);
  });

  it('closes and reports a message whose blob is missing, and leaves the others alone', async () => {
    const lost = await send();
    const fine = await send();
    await stack().server.container.blobs.delete(lost.key);
    const result = await lifecycle(0).collectOrphans();
    expect(result.missingClosed).to.equal(1);
    expect(await messageOf(lost.key)).to.include({ exist: false, endReason: 'missing' });
    expect((await messageOf(fine.key)).exist).to.equal(true);
    expect(await stack().blobNames()).to.include(fine.key);
  });

  it('two sweepers running at once delete each expired image once', async () => {
    const sent = [];
    for (let i = 0; i < 10; i++) sent.push(await send());
    for (const s of sent) await expire(s.key);
    const [a, b] = await Promise.all([lifecycle().sweep(), lifecycle().sweep()]);
    expect(a.deleted + b.deleted).to.equal(10);
    for (const s of sent) expect((await messageOf(s.key)).endReason).to.equal('expired');
  });
});
