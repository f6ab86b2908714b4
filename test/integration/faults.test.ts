import fs from 'node:fs';
import { expect } from 'chai';
import pino from 'pino';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { TypeormImageRepository } from '../../src/repositories/image.typeorm-repository';
import { LifecycleService } from '../../src/services/lifecycle.service';
import { ApiClient, GqlResult, httpGet, SentMessage, steppedUpload } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { aliceAndBob, downloadUrlOf, someUsers } from '../support/fixtures';
import { describeEachStack, TestStack } from '../support/stack';
import { eventually } from '../support/wait';

const MiB = 1024 * 1024;
const SEND = 'mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { id messageKey } }';

describeEachStack('faults: nothing accepted is lost, nothing refused is kept', (stack: () => TestStack) => {
  let api: ApiClient;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => ({ api, alice, bob } = await aliceAndBob(stack())));

  const count = (entity: typeof Message | typeof Image) =>
    stack()
      .server.container.db.getRepository(entity as typeof Message)
      .count();
  const collect = () =>
    new LifecycleService(
      {
        images: new TypeormImageRepository(stack().server.container.db),
        blobs: stack().server.container.blobs,
        log: pino({ level: 'silent' }),
      },
      { orphanGraceMs: 0, batchSize: 100, leaseMs: 60_000 },
    ).collectOrphans();

  /** Every blob in the store belongs to an image row, and every live row has its blob. */
  async function expectStoreMatchesRows() {
    const names = new Set(await stack().blobNames());
    const rows = await stack().server.container.db.getRepository(Image).find();
    const live = rows.filter((r) => !r.blobDeletedAt).map((r) => r.objectName);
    expect([...names].sort()).to.deep.equal(live.sort());
  }

  async function expectSendWorks() {
    const bytes = jpegBytes(300_000);
    const sent = (await api.sendImage(alice.token, bob.uid, bytes)).data!.sendImage;
    const url = await downloadUrlOf(api, bob, sent.messageKey);
    expect((await httpGet(url)).body.equals(bytes)).to.equal(true);
  }

  /** Files the local S3 server holds, objects and multipart parts alike. */
  const s3Files = () => (fs.readdirSync(stack().s3!.directory, { recursive: true }) as string[]).length;

  /** Waits until the local S3 server has begun writing (the server's PUT is under way). */
  async function s3WriteStarted(before: number) {
    await eventually(() => expect(s3Files()).to.be.greaterThan(before), 5000);
  }

  // Only a stack that started its own S3 server can stop it; the title says so, so that the
  // skip on local disk or with an external S3_ENDPOINT explains itself in the test output.
  describe('the S3 server goes away (only where the tests run their own S3 server: not on local disk, nor with S3_ENDPOINT)', () => {
    beforeEach(function () {
      if (!stack().s3) this.skip();
    });
    afterEach(async () => {
      if (stack().s3)
        await stack()
          .s3!.restart()
          .catch(() => undefined);
    });

    it('stopped before an upload: a clear INTERNAL_SERVER_ERROR, no row, and the next upload after it is back succeeds', async () => {
      const before = [await count(Message), await count(Image)];
      await stack().s3!.stop();
      const res = await api.sendImage(alice.token, bob.uid, jpegBytes(200_000));
      expect(res.errors![0].extensions!.code).to.equal('INTERNAL_SERVER_ERROR');
      expect(res.errors![0].message).to.match(/image could not be stored/);
      expect([await count(Message), await count(Image)]).to.deep.equal(before);
      await stack().s3!.restart();
      await expectSendWorks();
    });

    for (const [label, size, declare] of [
      ['one streamed PUT (size declared)', 3 * MiB, true],
      ['a multipart upload (size unknown, over one part)', 7 * MiB, false],
    ] as const) {
      it(`stopped during ${label}: a clear error, no row, and nothing left once the collector ran`, async () => {
        const before = [await count(Message), await count(Image)];
        const objectsBefore = s3Files();
        const bytes = jpegBytes(size);
        const upload = steppedUpload(stack().url, {
          token: alice.token,
          query: SEND,
          variables: { r: bob.uid, size: declare ? size : null },
          file: bytes,
        });
        await upload.send(declare ? MiB : 5 * MiB + 100_000);
        await s3WriteStarted(objectsBefore);
        await stack().s3!.stop();
        await upload.finish();
        const res: GqlResult = await upload.response;
        expect(res.errors![0].extensions!.code).to.equal('INTERNAL_SERVER_ERROR');
        expect(res.errors![0].message).to.match(/image could not be stored/);
        expect([await count(Message), await count(Image)]).to.deep.equal(before);
        await stack().s3!.restart();
        await expectSendWorks();
        await collect();
        await expectStoreMatchesRows();
      });
    }
  });

  it('a client that cuts the connection mid-upload leaves no row and no blob, and the server keeps serving', async () => {
    const before = [await count(Message), await count(Image)];
    const upload = steppedUpload(stack().url, {
      token: alice.token,
      query: SEND,
      variables: { r: bob.uid, size: 2 * MiB },
      file: jpegBytes(2 * MiB),
    });
    await upload.send(MiB);
    await new Promise((r) => setTimeout(r, 100));
    upload.abort();
    await upload.response.catch(() => undefined);
    await eventually(async () => expect([await count(Message), await count(Image)]).to.deep.equal(before));
    await eventually(() => expectStoreMatchesRows());
    await expectSendWorks();
  });

  it('50 concurrent uploads to one receiver make 50 messages with 50 blobs', async () => {
    const carol = await registerUser(api);
    const senders = await someUsers(api, 5);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api.sendImage(senders[i % 5].token, carol.uid, jpegBytes(64 * 1024 + i), i % 2 ? null : 64 * 1024 + i),
      ),
    );
    const sent = results.map((r) => r.data?.sendImage as SentMessage);
    expect(sent.filter(Boolean)).to.have.length(50);
    const pending = (await api.gql('{ images { messageKey size } }', {}, carol.token)).data!.images as {
      messageKey: string;
      size: number;
    }[];
    expect(pending).to.have.length(50);
    expect(new Set(pending.map((p) => p.messageKey)).size).to.equal(50);
    const names = new Set(await stack().blobNames());
    for (const p of pending) expect(names.has(p.messageKey)).to.equal(true);
    expect(pending.map((p) => p.size).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => 64 * 1024 + i));
  });
});
