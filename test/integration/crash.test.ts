import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { In } from 'typeorm';
import { S3BlobStore } from '../../src/adapters/s3.blob-store';
import { loadConfig } from '../../src/config';
import { createDataSource } from '../../src/database';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { ApiClient, GqlResult, steppedUpload } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { FakeGetui } from '../support/fake-getui';
import { createTestDatabase, MYSQL_BASE_URL } from '../support/mysql';
import { ServerProcess, spawnServer } from '../support/process';
import { LocalS3, startLocalS3 } from '../support/s3.server';
import { freePort, STACKS } from '../support/stack';
import { startTcpProxy, TcpProxy } from '../support/tcp-proxy';
import { eventually as eventuallyWithin } from '../support/wait';

const eventually = (check: () => unknown) => eventuallyWithin(check, 30_000, 200);
const SEND = 'mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { id messageKey } }';
/** Numbers with fixed codes (SMS_TEST_NUMBERS): the server runs on its own, no SMS inbox to read. */
const NUMBERS = Array.from({ length: 12 }, (_, i) => `139${String(77_000_000 + i).padStart(8, '0')}`);

/**
 * The server as a separate process on MariaDB (behind a TCP proxy that a test can cut), the local
 * S3 server and the fake GeTui, so that it can be killed outright and started again.
 */
(STACKS.includes('mysql-s3') ? describe : describe.skip)('crashes and outages of a running server process [mysql-s3]', function () {
  this.timeout(120_000);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: TcpProxy;
  let s3: LocalS3;
  let fake: FakeGetui;
  let env: Record<string, string>;
  let cwd: string;
  let server: ServerProcess;
  let api: ApiClient;
  let users: TestUser[];
  let blobs: S3BlobStore;
  let rows: ReturnType<typeof createDataSource>;

  const start = async () => {
    server = spawnServer(env, cwd);
    api = new ApiClient((await server.listening).url);
  };

  before(async () => {
    db = await createTestDatabase();
    const base = new URL(MYSQL_BASE_URL);
    proxy = await startTcpProxy({ host: base.hostname, port: Number(base.port || 3306) });
    s3 = await startLocalS3();
    fake = await new FakeGetui().start();
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-crash-'));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info', // spawnServer waits for the 'listening' line
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      DATABASE_URL: proxy.via(db.url),
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      ...fake.env(1000),
      PUSH_POLL_MS: '100',
      PUSH_RETRY_BASE_MS: '50',
      PUSH_RETRY_MAX_MS: '500',
      PUSH_MAX_ATTEMPTS: '1000',
      SMS_PROVIDER: 'log',
      SMS_TEST_NUMBERS: NUMBERS.map((n) => `+86${n}=123456`).join(','),
      RATE_LIMIT_MULTIPLIER: '1000',
      ORPHAN_GRACE_SECONDS: '2',
      ORPHAN_GC_INTERVAL_SECONDS: '1',
      SWEEP_INTERVAL_SECONDS: '1',
    };
    await start();
    users = [];
    for (const n of NUMBERS.slice(0, 6)) users.push(await registerUser(api, { regionNum: '86', phoneNum: n, verificationCode: '123456' }));
    const config = loadConfig({ DATABASE_URL: db.url, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKey, S3_SECRET_KEY: s3.secretKey });
    blobs = new S3BlobStore(config.s3!);
    rows = createDataSource(config.database);
    await rows.initialize();
  });

  after(async () => {
    await server?.stop();
    await rows?.destroy();
    await fake?.stop();
    await s3?.stop();
    await proxy?.stop();
    await db?.drop();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  const names = async () => {
    const out: string[] = [];
    for await (const b of blobs.list()) out.push(b.name);
    return out;
  };

  /** Every blob belongs to an image row and every live image row has its blob: nothing half-written. */
  async function expectNothingHalfWritten() {
    const stored = new Set(await names());
    const live = (await rows.getRepository(Image).find()).filter((i) => !i.blobDeletedAt).map((i) => i.objectName);
    expect([...stored].sort()).to.deep.equal(live.sort());
  }

  it('the database goes away during a send: a clear error, no row, no blob, and the next send works once it is back', async () => {
    const [alice, bob] = users;
    const messagesBefore = await rows.getRepository(Message).count();
    const bytes = jpegBytes(2 * 1024 * 1024);
    const upload = steppedUpload(api.baseUrl, {
      token: alice.token,
      query: SEND,
      variables: { r: bob.uid, size: bytes.length },
      file: bytes,
    });
    // The sender is authenticated and the receiver found; the image is streaming to the store.
    await upload.send(1024 * 1024);
    await new Promise((r) => setTimeout(r, 200));
    proxy.cut('reset');
    await upload.finish();
    const res: GqlResult = await upload.response;
    proxy.restore();
    expect(res.errors![0].extensions!.code).to.equal('INTERNAL_SERVER_ERROR');
    expect(res.errors![0].message).to.match(/could not be stored/);
    expect(await rows.getRepository(Message).count()).to.equal(messagesBefore);
    await eventually(() => expectNothingHalfWritten());
    await eventually(async () => {
      const again = await api.sendImage(alice.token, bob.uid, jpegBytes(100_000));
      expect(again.errors, JSON.stringify(again.errors)).to.equal(undefined);
    });
  });

  it('50 concurrent uploads to one receiver: 50 messages, 50 blobs, 50 pushes', async () => {
    const receiver = users[5];
    const senders = users.slice(0, 5);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api.sendImage(senders[i % 5].token, receiver.uid, jpegBytes(32 * 1024 + i), i % 2 ? null : 32 * 1024 + i),
      ),
    );
    const sent = results.map((r) => r.data?.sendImage);
    expect(sent.filter(Boolean), JSON.stringify(results.find((r) => r.errors)?.errors)).to.have.length(50);
    const ids = sent.map((m) => m!.id);
    const messages = await rows.getRepository(Message).find({ where: { id: In(ids) }, relations: { image: true } });
    expect(messages).to.have.length(50);
    const stored = new Set(await names());
    for (const m of messages) expect(stored.has(m.image.objectName)).to.equal(true);
    await eventually(() => expect(fake.pushes.filter((p) => p.cid === receiver.cid)).to.have.length(50));
    const pushedIds = fake.pushes.filter((p) => p.cid === receiver.cid).map((p) => JSON.parse(p.transmission).message_id);
    expect(pushedIds.sort((a, b) => a - b)).to.deep.equal([...ids].sort((a, b) => a - b));
  });

  it('killed (SIGKILL) with 20 uploads and their pushes in flight: every answered send survives with its blob and is pushed once; nothing half-written remains', async () => {
    const receivers = users.slice(3, 6);
    const senders = users.slice(0, 3);
    fake.hang(); // pushes reach GeTui and hang there when the process dies
    const answered: { id: number; messageKey: string }[] = [];
    const uploads = Array.from({ length: 20 }, (_, i) => {
      const bytes = jpegBytes(400 * 1024 + i);
      const upload = steppedUpload(api.baseUrl, {
        token: senders[i % 3].token,
        query: SEND,
        variables: { r: receivers[i % 3].uid, size: bytes.length },
        file: bytes,
      });
      upload.response.then(
        (r) => {
          if (r.data?.sendImage) answered.push(r.data.sendImage as { id: number; messageKey: string });
        },
        () => undefined, // the connection died with the server: the client was told nothing
      );
      return upload;
    });
    // Every upload is half sent; half of them are then completed and answered.
    await Promise.all(uploads.map((u) => u.send(200 * 1024)));
    await Promise.all(uploads.slice(0, 10).map((u) => u.finish()));
    await eventually(() => expect(answered.length).to.equal(10));
    server.child.kill('SIGKILL');
    await server.exited;
    await Promise.all(uploads.slice(10).map((u) => u.finish().catch(() => undefined)));
    await Promise.all(uploads.map((u) => u.response.catch(() => undefined)));
    expect(answered.length, 'the other uploads were still in flight when the process died').to.equal(10);

    fake.up();
    fake.release();
    await start();

    const committed = await rows
      .getRepository(Message)
      .find({ where: { receiverUid: In(receivers.map((r) => r.uid)) }, relations: { image: true } });
    const committedIds = new Set(committed.map((m) => m.id));
    for (const a of answered) expect(committedIds.has(a.id), `message ${a.id} was answered with success`).to.equal(true);
    // Every committed message, answered or not, reaches its device exactly once (a repeat of the
    // same request_id is dropped by GeTui, as the fake does).
    await eventually(() => {
      for (const m of committed) {
        const pushes = fake.pushes.filter((p) => JSON.parse(p.transmission).message_id === m.id);
        expect(pushes, `pushes of message ${m.id}`).to.have.length(1);
      }
    });
    const stored = new Set(await names());
    for (const m of committed) expect(stored.has(m.image.objectName), `blob of message ${m.id}`).to.equal(true);
    // Uploads cut short by the kill left blobs with no row: the collector removes them after its grace.
    await eventually(() => expectNothingHalfWritten());
    expect(fake.violations).to.deep.equal([]);
  });
});
