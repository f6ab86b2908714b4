import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import type { User } from '../../src/entities/user.entity';
import { DownloadTokens } from '../../src/services/download-tokens';
import { NotFoundError } from '../../src/errors';
import { ImageDownloadService } from '../../src/services/image-download.service';
import { ImageInboxService } from '../../src/services/image-inbox.service';
import { ImageSendService } from '../../src/services/image-send.service';
import type { SendAudience } from '../../src/services/send-audience';
import { jpegBytes } from '../support/factories';
import { FakeMessageRepository, FakeUserRepository, MemoryBlobStore } from '../support/fakes';
import { rejection } from '../support/service-fixtures';

describe('the image services (unit)', () => {
  let clock: Date;
  let users: FakeUserRepository;
  let messages: FakeMessageRepository;
  let blobs: MemoryBlobStore;
  let sending: ImageSendService;
  let inbox: ImageInboxService;
  let downloads: ImageDownloadService;
  let alice: User;
  let bob: User;
  let wakes: number;
  /** Receivers who blocked the sender, and the members of group 7. */
  let blockers: Set<number>;
  let group7: number[];

  const file = (bytes: Buffer) => ({ stream: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]) });
  const fail = rejection;

  beforeEach(async () => {
    clock = new Date('2026-03-01T00:00:00.000Z');
    wakes = 0;
    users = new FakeUserRepository();
    messages = new FakeMessageRepository(users);
    blobs = new MemoryBlobStore();
    blockers = new Set();
    group7 = [];
    const audience: SendAudience = {
      direct: async (_sender, receiverUid) => {
        const receiver = await users.findById(receiverUid);
        if (!receiver) throw new NotFoundError('Receiver');
        return { receiver, delivery: blockers.has(receiverUid) ? 'discard' : 'deliver' };
      },
      group: async (sender, groupId) => {
        if (groupId !== 7 || !group7.includes(sender.uid)) throw new NotFoundError('Group');
        const others = group7.filter((u) => u !== sender.uid);
        return { groupId, deliver: others.filter((u) => !blockers.has(u)), discard: others.filter((u) => blockers.has(u)) };
      },
    };
    const deps = {
      messages,
      users,
      audience,
      blobs,
      pushes: { committed: () => void wakes++, enqueue: async () => undefined },
      log: pino({ level: 'silent' }),
      now: () => clock,
    };
    sending = new ImageSendService(deps, { maxImageBytes: 100_000, imageTtlSeconds: 3600 });
    inbox = new ImageInboxService(deps);
    downloads = new ImageDownloadService(
      { ...deps, tokens: new DownloadTokens(Buffer.alloc(32, 7)) },
      { downloadUrlTtlSeconds: 300, publicUrl: 'http://glimpse.test' },
    );
    const reg = (n: string) =>
      users.registerDevice({
        phoneHash: n.repeat(64).slice(0, 64),
        regionNum: '86',
        phoneNum: n,
        nickname: n,
        cid: n,
        ukeyHash: 'x',
        now: clock,
      });
    alice = (await reg('a')).user;
    bob = (await reg('b')).user;
  });

  it('stores the bytes under the message key and records type, size and SHA-256', async () => {
    const bytes = jpegBytes(50_000);
    const m = await sending.send(alice, bob.uid, file(bytes), bytes.length);
    expect(blobs.blobs.get(m.messageKey)!.bytes.equals(bytes)).to.equal(true);
    expect(blobs.blobs.get(m.messageKey)!.contentType).to.equal('image/jpeg');
    expect(m.image).to.include({ size: 50_000, filetype: 'image/jpeg', sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(m.image.expiresAt.getTime()).to.equal(clock.getTime() + 3600_000);
    expect(m.sender).to.equal(alice);
  });

  it('gives every send a different key, even for the same pair at the same instant', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) keys.add((await sending.send(alice, bob.uid, file(jpegBytes(5000)))).messageKey);
    expect(keys.size).to.equal(5);
  });

  it('writes the push with the message (the five payload keys, the image expiry) and wakes the dispatcher after', async () => {
    const m = await sending.send(alice, bob.uid, file(jpegBytes(5000)));
    expect(messages.pushJobs).to.have.length(1);
    const job = messages.pushJobs[0];
    expect(job).to.include({ receiverUid: bob.uid, kind: 'image' });
    expect(job.expiresAt!.getTime()).to.equal(m.image.expiresAt.getTime());
    expect(JSON.parse(job.payload)).to.deep.equal({
      sender_region: '86',
      sender_phone: alice.phoneHash,
      message_id: m.id,
      message_key: m.messageKey,
      send_time: clock.toISOString(),
    });
    expect(wakes).to.equal(1);
  });

  it('deletes the stored blob when the database write fails, and queues no push', async () => {
    messages.failNextCreate = new Error('db down');
    const e = await fail(sending.send(alice, bob.uid, file(jpegBytes(5000))));
    expect(e.extensions.code).to.equal('INTERNAL_SERVER_ERROR');
    expect(e.message).to.contain('could not be stored');
    expect(blobs.blobs.size).to.equal(0);
    expect(messages.pushJobs).to.have.length(0);
    expect(wakes).to.equal(0);
  });

  it('answers a store failure with INTERNAL_SERVER_ERROR saying the image could not be stored', async () => {
    blobs.failPuts = new Error('connect ECONNREFUSED');
    const e = await fail(sending.send(alice, bob.uid, file(jpegBytes(5000))));
    expect(e.extensions.code).to.equal('INTERNAL_SERVER_ERROR');
    expect(e.message).to.contain('could not be stored');
    expect(messages.messages).to.have.length(0);
  });

  it('drains an upload it refuses, so the request can finish', async () => {
    const stream = new PassThrough();
    const sent = fail(sending.send(alice, 999, { stream }));
    stream.end(jpegBytes(200_000));
    expect((await sent).extensions.code).to.equal('NOT_FOUND');
    await new Promise((r) => setImmediate(r));
    expect(stream.readableEnded).to.equal(true);
  });

  it('refuses too large, wrong-size and non-image uploads without storing', async () => {
    expect((await fail(sending.send(alice, bob.uid, file(jpegBytes(100_001))))).extensions.code).to.equal('PAYLOAD_TOO_LARGE');
    expect((await fail(sending.send(alice, bob.uid, file(jpegBytes(1000)), 100_001))).extensions.code).to.equal('PAYLOAD_TOO_LARGE');
    expect((await fail(sending.send(alice, bob.uid, file(jpegBytes(1000)), 999))).extensions.code).to.equal('BAD_USER_INPUT');
    expect((await fail(sending.send(alice, bob.uid, file(jpegBytes(1000)), 1001))).extensions.code).to.equal('BAD_USER_INPUT');
    expect((await fail(sending.send(alice, bob.uid, file(Buffer.from('plain text, not an image at all'))))).extensions.code).to.equal(
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(blobs.blobs.size).to.equal(0);
    expect(messages.messages).to.have.length(0);
  });

  it('mints a download URL for the receiver of a live message only, never past the image expiry', async () => {
    const m = await sending.send(alice, bob.uid, file(jpegBytes(5000)));
    expect(await downloads.downloadUrl(alice, m)).to.equal(null);
    const url = (await downloads.downloadUrl(bob, m))!;
    expect(url).to.match(/^http:\/\/glimpse\.test\/download\/[0-9a-f]{64}\.\d+\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(Number(url.split('.').slice(-3)[0])).to.equal(Math.floor(clock.getTime() / 1000) + 300);
    clock = new Date(m.image.expiresAt.getTime() - 60_000);
    expect(Number((await downloads.downloadUrl(bob, m))!.split('.').slice(-3)[0])).to.equal(Math.floor(m.image.expiresAt.getTime() / 1000));
  });

  it('shows an expired image as not existing and serves it to no one, before any sweeper runs', async () => {
    const m = await sending.send(alice, bob.uid, file(jpegBytes(5000)));
    const token = (await downloads.downloadUrl(bob, m))!.split('/').pop()!;
    clock = new Date(m.image.expiresAt.getTime());
    expect((await inbox.get(bob, m.messageKey)).exist).to.equal(false);
    expect(await inbox.listPending(bob)).to.have.length(0);
    expect((await fail(downloads.openDownload(token))).extensions.code).to.equal('FORBIDDEN');
  });

  it('serves a valid token, and refuses an expired or altered one with FORBIDDEN', async () => {
    const m = await sending.send(alice, bob.uid, file(jpegBytes(5000)));
    const token = (await downloads.downloadUrl(bob, m))!.split('/').pop()!;
    expect((await downloads.openDownload(token)).size).to.equal(5000);
    expect((await fail(downloads.openDownload(token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))))).extensions.code).to.equal('FORBIDDEN');
    clock = new Date(clock.getTime() + 301_000);
    expect((await fail(downloads.openDownload(token))).message).to.contain('expired');
  });

  it('confirm ends the message and deletes the blob once; a failed delete does not fail the confirm', async () => {
    const m1 = await sending.send(alice, bob.uid, file(jpegBytes(5000)));
    const c1 = await inbox.confirm(bob, m1.messageKey);
    expect(c1.exist).to.equal(false);
    expect(blobs.blobs.has(m1.messageKey)).to.equal(false);
    expect(messages.images[0].blobDeletedAt).to.equal(clock);
    expect((await inbox.confirm(bob, m1.messageKey)).exist).to.equal(false);

    const m2 = await sending.send(alice, bob.uid, file(jpegBytes(5000)));
    blobs.failDeletes = new Error('store down');
    expect((await inbox.confirm(bob, m2.messageKey)).exist).to.equal(false);
    expect(messages.images[1].blobDeletedAt).to.equal(null);
  });

  it('answers NOT_FOUND to anyone but the receiver', async () => {
    const m = await sending.send(alice, bob.uid, file(jpegBytes(5000)));
    expect((await fail(inbox.get(alice, m.messageKey))).extensions.code).to.equal('NOT_FOUND');
    expect((await fail(inbox.confirm(alice, m.messageKey))).extensions.code).to.equal('NOT_FOUND');
    expect(blobs.blobs.size).to.equal(1);
  });

  describe('group sends', () => {
    let members: User[];

    beforeEach(async () => {
      members = [];
      for (const n of ['c', 'd', 'e']) {
        members.push(
          (
            await users.registerDevice({
              phoneHash: n.repeat(64),
              regionNum: '86',
              phoneNum: n,
              nickname: n,
              cid: n,
              ukeyHash: 'x',
              now: clock,
            })
          ).user,
        );
      }
      group7 = [alice.uid, bob.uid, ...members.map((m) => m.uid)];
    });

    it('stores one blob under a random name and writes one message per other member, each with its own key', async () => {
      const bytes = jpegBytes(20_000);
      const sent = await sending.sendToGroup(alice, 7, file(bytes), bytes.length);
      expect(sent.map((m) => m.receiverUid)).to.deep.equal(group7.slice(1));
      expect(new Set(sent.map((m) => m.messageKey)).size).to.equal(4);
      expect(blobs.blobs.size).to.equal(1);
      const [name] = [...blobs.blobs.keys()];
      expect(name).to.match(/^[0-9a-f]{64}$/);
      expect(sent.map((m) => m.messageKey)).not.to.include(name);
      expect(messages.images).to.have.length(1);
      expect(sent.every((m) => m.groupId === 7 && m.imageId === messages.images[0].id)).to.equal(true);
    });

    it('queues one push per delivered message with the five image keys plus group_id', async () => {
      const sent = await sending.sendToGroup(alice, 7, file(jpegBytes(5000)));
      await new Promise((r) => setImmediate(r));
      expect(messages.pushJobs.map((p) => p.receiverUid)).to.deep.equal(group7.slice(1));
      const payload = JSON.parse(messages.pushJobs[0].payload);
      expect(Object.keys(payload).sort()).to.deep.equal([
        'group_id',
        'message_id',
        'message_key',
        'send_time',
        'sender_phone',
        'sender_region',
      ]);
      expect(payload).to.include({ group_id: 7, message_key: sent[0].messageKey, sender_phone: alice.phoneHash, sender_region: '86' });
    });

    it('keeps the blob until the last member confirms', async () => {
      const sent = await sending.sendToGroup(alice, 7, file(jpegBytes(5000)));
      const receiverOf = (uid: number) => [bob, ...members].find((u) => u.uid === uid)!;
      for (const m of sent.slice(0, -1)) {
        await inbox.confirm(receiverOf(m.receiverUid), m.messageKey);
        expect(blobs.blobs.size).to.equal(1);
      }
      const last = sent[sent.length - 1];
      await inbox.confirm(receiverOf(last.receiverUid), last.messageKey);
      expect(blobs.blobs.size).to.equal(0);
    });

    it('answers a non-member NOT_FOUND and drains the upload without storing', async () => {
      group7 = [bob.uid, ...members.map((m) => m.uid)];
      expect((await fail(sending.sendToGroup(alice, 7, file(jpegBytes(5000))))).extensions.code).to.equal('NOT_FOUND');
      expect(blobs.blobs.size).to.equal(0);
    });

    it('gives members who blocked the sender a message born ended, with no push, yet answers it like the others', async () => {
      blockers.add(bob.uid);
      const sent = await sending.sendToGroup(alice, 7, file(jpegBytes(5000)));
      await new Promise((r) => setImmediate(r));
      expect(sent).to.have.length(4);
      expect(sent.every((m) => m.exist)).to.equal(true);
      expect(messages.messages.find((m) => m.receiverUid === bob.uid)).to.include({ exist: false, endReason: 'blocked' });
      expect(messages.pushJobs.map((p) => p.receiverUid)).not.to.include(bob.uid);
      expect(await inbox.listPending(bob)).to.have.length(0);
    });
  });

  it('reads but stores nothing for a receiver who blocked the sender, and answers like a normal send', async () => {
    blockers.add(bob.uid);
    const bytes = jpegBytes(5000);
    const m = await sending.send(alice, bob.uid, file(bytes), bytes.length);
    expect(m).to.include({ exist: true, size: 5000, filetype: 'image/jpeg', receiverUid: bob.uid });
    expect(blobs.blobs.size).to.equal(0);
    expect(messages.images[0].blobDeletedAt).to.equal(clock);
    expect(await inbox.listPending(bob)).to.have.length(0);
    expect((await fail(inbox.get(bob, m.messageKey))).extensions.code).to.equal('NOT_FOUND');
    // The checks every send gets still apply, so a refusal reveals nothing either.
    expect(await fail(sending.send(alice, bob.uid, file(Buffer.from('not an image at all'))))).to.have.nested.property(
      'extensions.code',
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(await fail(sending.send(alice, bob.uid, file(bytes), 4999))).to.have.nested.property('extensions.code', 'BAD_USER_INPUT');
  });
});
