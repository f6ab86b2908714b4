import type { Readable } from 'node:stream';
import { BlobNotFoundError, BlobStore, ByteRange } from '../../src/adapters/blob-store';
import type { RateDecision, RateLimitCharge, RateLimiter } from '../../src/adapters/rate-limiter';
import { SmsDeliveryError, SmsProvider, VerificationSms } from '../../src/adapters/sms-provider';
import type { RateLimitName, RateLimitRule } from '../../src/config';
import { VerificationCode } from '../../src/entities/verification-code.entity';
import type { NewVerificationCode, VerificationCodeRepository } from '../../src/repositories/verification-code.repository';
import { Image, KEY_DESTROYED } from '../../src/entities/image.entity';
import { Message, MessageEndReason } from '../../src/entities/message.entity';
import { User, WhoCanSend } from '../../src/entities/user.entity';
import type { EndResult, MessageRepository, NewImage, NewMessage, ReceiptJobs } from '../../src/repositories/message.repository';
import type { AccountMove, DeviceRegistered, DeviceRegistration, EndedImage, UserRepository } from '../../src/repositories/user.repository';
import type { ClaimedPushJob, NewPushJob, OutboxRow, PushJobOutcome, PushJobRepository } from '../../src/repositories/push-job.repository';
import { PushJob } from '../../src/entities/push-job.entity';
import type { PushMessage, PushProvider, PushResult } from '../../src/adapters/push-provider';
import { Readable as ReadableStream } from 'node:stream';
import { FriendshipState, pairOf } from '../../src/entities/friendship.entity';
import type { FriendRequestOutcome, Relation, SettingsPatch, SocialRepository } from '../../src/repositories/social.repository';
import type { PushItem, PushQueue } from '../../src/services/push-queue';
import type {
  AccountDeletion,
  AccountExportRepository,
  AccountLifecycleRepository,
  AccountRows,
  ExportedMessage,
  NumberChange,
  NumberChangeOutcome,
} from '../../src/repositories/account-lifecycle.repository';

/**
 * In-memory stand-ins for the adapters, for unit tests of the services (no I/O).
 * test/integration/repository-contract.test.ts holds each repository fake to what the TypeORM one does.
 */

/** A copy of a stored row, as a database read gives one: changing it changes nothing stored. */
const copyOf = <T extends object>(row: T): T => Object.assign(Object.create(Object.getPrototypeOf(row)) as T, row);

export class FakeUserRepository implements UserRepository {
  readonly rows: User[] = [];
  /** The pushes written with moves (the same "transaction"). */
  readonly pushJobs: NewPushJob[] = [];
  /** Ends the pending messages of a moved account; wire it to a FakeMessageRepository's endPendingFor. */
  endPending: (uid: number, now: Date, receipts?: ReceiptJobs) => EndedImage[] = () => [];
  /** When set, the pushes written with moves land in this outbox too, as they do in the database's. */
  outbox: FakePushJobRepository | null = null;
  /** Uids are never reused, also after a delete. */
  private lastUid = 0;

  /** The stored row itself, for the other fakes that write to it. */
  rowOf(uid: number): User | null {
    return this.rows.find((u) => u.uid === uid) ?? null;
  }

  async findById(uid: number) {
    const u = this.rowOf(uid);
    return u && copyOf(u);
  }

  async findByIds(uids: number[]) {
    return this.rows.filter((u) => uids.includes(u.uid)).map(copyOf);
  }

  async findByPhoneHash(phoneHash: string) {
    const u = this.rows.find((x) => x.phoneHash === phoneHash);
    return u ? copyOf(u) : null;
  }

  async registerDevice(reg: DeviceRegistration, move?: AccountMove): Promise<DeviceRegistered> {
    const existing = this.rows.find((u) => u.phoneHash === reg.phoneHash);
    if (existing) {
      move?.check(copyOf(existing));
      const previous = copyOf(existing);
      Object.assign(existing, {
        cid: reg.cid,
        ukeyHash: reg.ukeyHash,
        nickname: reg.nickname,
        publicKey: reg.publicKey ?? null,
        updatedAt: reg.now,
        lastSeenAt: reg.now,
      });
      const endedImages = this.endPending(existing.uid, reg.now, move?.receipts);
      if (move) {
        const notices = move.notices(previous);
        this.pushJobs.push(...notices);
        this.outbox?.add(notices, reg.now);
      }
      return { user: copyOf(existing), created: false, endedImages };
    }
    const user = Object.assign(new User(), {
      ...reg,
      uid: ++this.lastUid,
      regTime: reg.now,
      updatedAt: reg.now,
      whoCanSendMe: WhoCanSend.EVERYONE,
      discoverable: true,
      publicKey: reg.publicKey ?? null,
      registrationLock: null,
      lastSeenAt: reg.now,
    });
    delete (user as unknown as { now?: Date }).now;
    delete (user as unknown as { known?: boolean }).known;
    this.rows.push(user);
    return { user: copyOf(user), created: true, endedImages: [] };
  }

  private async update(uid: number, change: Partial<User>) {
    const u = this.rowOf(uid);
    if (u) Object.assign(u, change);
    return u && copyOf(u);
  }

  async updateRegistrationLock(uid: number, lock: string | null, now: Date) {
    return this.update(uid, { registrationLock: lock, updatedAt: now });
  }

  async touchSeen(uid: number, now: Date, staleBefore: Date) {
    const u = this.rowOf(uid);
    if (u && (u.lastSeenAt === null || u.lastSeenAt < staleBefore)) u.lastSeenAt = now;
  }

  async updatePublicKey(uid: number, publicKey: string, now: Date) {
    return this.update(uid, { publicKey, updatedAt: now });
  }

  async updateCid(uid: number, cid: string, now: Date) {
    return this.update(uid, { cid, updatedAt: now });
  }
}

export class FakeMessageRepository implements MessageRepository {
  readonly images: Image[] = [];
  readonly messages: Message[] = [];
  /** The push jobs written with the messages (the same "transaction"). */
  readonly pushJobs: NewPushJob[] = [];
  failNextCreate: Error | null = null;
  /** When set, the pushes written with messages land in this outbox too, as they do in the database's. */
  outbox: FakePushJobRepository | null = null;
  /** Whether `blockerUid` blocked `blockedUid`; wire it to a FakeSocialRepository's hasBlocked. */
  hasBlocked: (blockerUid: number, blockedUid: number) => boolean = () => false;
  /** Ids are never reused, also after a delete. */
  private lastImageId = 0;
  private lastMessageId = 0;

  constructor(private readonly users: FakeUserRepository) {}

  private writePushes(jobs: NewPushJob[], now: Date) {
    this.pushJobs.push(...jobs);
    this.outbox?.add(jobs, now);
  }

  async createImageWithMessages(image: NewImage, messages: NewMessage[], pushFor: (m: Message) => NewPushJob | null) {
    if (this.failNextCreate) {
      const e = this.failNextCreate;
      this.failNextCreate = null;
      throw e;
    }
    const { discarded, ...facts } = image;
    const over = discarded ? image.createdAt : null;
    const img = Object.assign(new Image(), {
      ...facts,
      keyId: facts.keyId ?? null,
      ...(discarded ? KEY_DESTROYED : {}),
      id: this.lastImageId + 1,
      blobDeletedAt: over,
      endedAt: over,
      gcLeaseUntil: null,
    });
    const rows = messages.map((m, i) =>
      Object.assign(new Message(), {
        ...m,
        groupId: m.groupId ?? null,
        id: this.lastMessageId + 1 + i,
        imageId: img.id,
        image: img,
        exist: !m.endReason,
        endReason: m.endReason ?? null,
        endedAt: m.endReason ? image.expiresAt : null,
        downloadedAt: null,
        screenshotAt: null,
      }),
    );
    // Built in full before anything is kept: a push that cannot be built leaves nothing behind.
    const pushes = rows.map((row) => pushFor(copyOf(row))).filter((p): p is NewPushJob => p !== null);
    this.lastImageId = img.id;
    this.lastMessageId += rows.length;
    this.images.push(img);
    this.messages.push(...rows);
    this.writePushes(pushes, image.createdAt);
    return rows.map((row) => Object.assign(copyOf(row), { image: copyOf(img) }));
  }

  /** Receipts for the messages of these just-ended images (none to blockers), as the database writes them. */
  private writeReceipts(images: Image[], now: Date, receipts?: ReceiptJobs) {
    if (!receipts || images.length === 0) return;
    const ids = new Set(images.map((i) => i.id));
    const destroyed = this.messages.filter((x) => ids.has(x.imageId) && x.endReason !== 'blocked');
    this.writePushes(
      receipts(destroyed.map((x) => ({ id: x.id, senderUid: x.senderUid, endReason: x.endReason ?? 'expired', destroyedAt: now }))),
      now,
    );
  }

  private async withSender(m: Message | undefined) {
    if (!m) return null;
    return Object.assign(copyOf(m), { sender: (await this.users.findById(m.senderUid))!, image: copyOf(m.image) });
  }

  async findForReceiver(messageKey: string, receiverUid: number) {
    return this.withSender(
      this.messages.find((m) => m.messageKey === messageKey && m.receiverUid === receiverUid && m.endReason !== 'blocked'),
    );
  }

  async findByKey(messageKey: string) {
    return this.withSender(this.messages.find((m) => m.messageKey === messageKey));
  }

  async listPending(receiverUid: number, now: Date, senderPhoneHash?: string) {
    const out: Message[] = [];
    for (const m of this.messages) {
      if (m.receiverUid !== receiverUid || !m.exist || m.image.expiresAt <= now || this.hasBlocked(receiverUid, m.senderUid)) continue;
      const withSender = (await this.withSender(m))!;
      if (senderPhoneHash === undefined || withSender.sender.phoneHash === senderPhoneHash) out.push(withSender);
    }
    return out;
  }

  async endForReceiver(
    messageKey: string,
    receiverUid: number,
    reason: MessageEndReason,
    now: Date,
    receipts?: ReceiptJobs,
  ): Promise<EndResult> {
    const m = this.messages.find((x) => x.messageKey === messageKey && x.receiverUid === receiverUid);
    if (!m) return { message: null, orphanedImage: null };
    let orphanedImage: Image | null = null;
    if (m.exist) {
      Object.assign(m, { exist: false, endReason: reason, endedAt: now });
      if (!this.messages.some((x) => x.imageId === m.imageId && x.exist)) {
        orphanedImage = copyOf(m.image);
        Object.assign(m.image, { endedAt: now, ...KEY_DESTROYED });
        this.writeReceipts([m.image], now, receipts);
      }
    }
    return { message: await this.withSender(m), orphanedImage };
  }

  async markBlobDeleted(imageId: number, now: Date) {
    const img = this.images.find((i) => i.id === imageId);
    if (img) img.blobDeletedAt = now;
  }

  /** As a move (or a deletion) ends the account's pending messages (unexpired ones); answers the images that ended with them. */
  endPendingFor(receiverUid: number, now: Date, receipts?: ReceiptJobs, reason: MessageEndReason = 'account_moved'): EndedImage[] {
    const ending: Image[] = [];
    for (const m of this.messages) {
      if (m.receiverUid !== receiverUid || !m.exist || m.image.expiresAt <= now) continue;
      Object.assign(m, { exist: false, endReason: reason, endedAt: now });
      if (!this.messages.some((x) => x.imageId === m.imageId && x.exist) && !ending.includes(m.image)) ending.push(m.image);
    }
    for (const img of ending) Object.assign(img, { endedAt: now, ...KEY_DESTROYED });
    this.writeReceipts(ending, now, receipts);
    return ending.map((i) => ({ id: i.id, objectName: i.objectName }));
  }

  /**
   * An account's deletion, as the database does it: what was sent to it ends (receipts to the
   * senders), its messages both ways and their grants go, then the images no message points at.
   * Answers the blobs still stored of those images.
   */
  forgetAccount(uid: number, now: Date, receipts?: ReceiptJobs): string[] {
    this.endPendingFor(uid, now, receipts, 'receiver_gone');
    const copies = this.messages.filter((m) => m.receiverUid === uid && m.image.endedAt === null && m.endReason !== 'blocked');
    if (receipts)
      this.writePushes(
        receipts(copies.map((m) => ({ id: m.id, senderUid: m.senderUid, endReason: m.endReason ?? 'expired', destroyedAt: now }))),
        now,
      );
    const doomed = this.messages.filter((m) => m.senderUid === uid || m.receiverUid === uid);
    this.dropMessages(doomed);
    const imageIds = new Set(doomed.map((m) => m.imageId));
    const unreferenced = this.images.filter((i) => imageIds.has(i.id) && !this.messages.some((m) => m.imageId === i.id));
    for (const i of unreferenced) this.images.splice(this.images.indexOf(i), 1);
    return unreferenced.filter((i) => i.blobDeletedAt === null).map((i) => i.objectName);
  }

  /** Deletes messages and, as the foreign key does, their grants. */
  private dropMessages(doomed: Message[]) {
    const ids = new Set(doomed.map((m) => m.id));
    this.grants.forEach((g, i) => {
      if (g && ids.has(g.messageId)) this.grants[i] = null;
    });
    for (const m of doomed) this.messages.splice(this.messages.indexOf(m), 1);
  }

  async recordScreenshot(messageKey: string, receiverUid: number, now: Date) {
    const m = this.messages.find((x) => x.messageKey === messageKey && x.receiverUid === receiverUid && x.endReason !== 'blocked');
    if (!m) return null;
    m.screenshotAt ??= now;
    return this.withSender(m);
  }

  async listSent(senderUid: number, limit: number) {
    const out: Message[] = [];
    for (const m of [...this.messages]
      .reverse()
      .filter((x) => x.senderUid === senderUid)
      .slice(0, limit)) {
      out.push(Object.assign(copyOf(m), { image: copyOf(m.image), receiver: (await this.users.findById(m.receiverUid))! }));
    }
    return out;
  }

  /** Indexed by grant id - 1; a deleted grant leaves a hole, so ids stay put. */
  readonly grants: ({ messageId: number; createdAt: Date; completedAt: Date | null; servedBytes: number } | null)[] = [];

  async findUnusedGrants(messageIds: number[], createdAfter: Date) {
    const found = new Map<number, { id: number; createdAt: Date }>();
    this.grants.forEach((g, i) => {
      if (g && messageIds.includes(g.messageId) && !g.completedAt && g.servedBytes === 0 && g.createdAt > createdAfter)
        found.set(g.messageId, { id: i + 1, createdAt: g.createdAt });
    });
    return found;
  }

  async createGrants(messageIds: number[], now: Date) {
    const made = new Map<number, number>();
    for (const messageId of messageIds)
      made.set(messageId, this.grants.push({ messageId, createdAt: now, completedAt: null, servedBytes: 0 }));
    return made;
  }

  async deleteGrantsCreatedBefore(before: Date, limit: number) {
    let n = 0;
    this.grants.forEach((g, i) => {
      if (g && g.createdAt < before && n < limit) {
        this.grants[i] = null;
        n++;
      }
    });
    return n;
  }

  async findGrant(grantId: number) {
    const g = this.grants[grantId - 1];
    return g ? { messageId: g.messageId, completed: g.completedAt !== null, servedBytes: g.servedBytes } : null;
  }

  async reserveGrantBytes(grantId: number, messageId: number, bytes: number, budget: number) {
    const g = this.grants[grantId - 1];
    if (!g || g.messageId !== messageId || g.completedAt || g.servedBytes + bytes > budget) return false;
    g.servedBytes += bytes;
    return true;
  }

  async reserveWholeImage(grantId: number, messageKey: string, now: Date, slack: number, maxBudget: number) {
    const g = this.grants[grantId - 1];
    const m = this.messages.find((x) => x.messageKey === messageKey);
    if (!g || !m || g.messageId !== m.id || g.completedAt || !m.exist || m.image.expiresAt <= now) return null;
    const size = m.image.size;
    if (g.servedBytes + size > Math.min(size + slack, maxBudget)) return null;
    g.servedBytes += size;
    const { objectName, filetype, cipher, wrappedKey, keyId } = m.image;
    return { messageId: m.id, exist: m.exist, image: { objectName, filetype, size, cipher, wrappedKey, keyId } };
  }

  async releaseGrantBytes(grantId: number, bytes: number) {
    const g = this.grants[grantId - 1];
    if (g && g.servedBytes >= bytes) g.servedBytes -= bytes;
  }

  async deleteEndedBefore(before: Date, limit: number) {
    const doomed = this.messages.filter((m) => m.endedAt && m.endedAt < before).slice(0, limit);
    this.dropMessages(doomed);
    return doomed.length;
  }

  async deleteImagesEndedBefore(before: Date, limit: number) {
    const doomed = this.images
      .filter((i) => i.endedAt && i.endedAt < before && i.blobDeletedAt && !this.messages.some((m) => m.imageId === i.id))
      .slice(0, limit);
    for (const i of doomed) this.images.splice(this.images.indexOf(i), 1);
    return doomed.length;
  }

  async completeGrant(grantId: number, messageId: number, now: Date) {
    const g = this.grants[grantId - 1];
    if (!g || g.messageId !== messageId || g.completedAt) return false;
    g.completedAt = now;
    const m = this.messages.find((x) => x.id === messageId);
    if (m && !m.downloadedAt) m.downloadedAt = now;
    return true;
  }

  async listDownloadedBefore(before: Date, limit: number) {
    return this.messages
      .filter((m) => m.exist && m.downloadedAt && m.downloadedAt <= before)
      .sort((a, b) => a.downloadedAt!.getTime() - b.downloadedAt!.getTime())
      .slice(0, limit)
      .map((m) => ({ messageKey: m.messageKey, receiverUid: m.receiverUid }));
  }
}

/** Keeps blobs in memory; can be told to fail, to show what the services do when the store does. */
export class MemoryBlobStore implements BlobStore {
  readonly description = 'memory';
  readonly blobs = new Map<string, { bytes: Buffer; contentType: string; modifiedAt: Date }>();
  failPuts: Error | null = null;
  failDeletes: Error | null = null;

  async init() {}
  async ping() {}

  async put(name: string, body: Readable, opts: { size?: number; contentType: string }) {
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      body.on('data', (c: Buffer) => chunks.push(c));
      body.once('end', resolve);
      body.once('error', reject);
    });
    if (this.failPuts) throw this.failPuts;
    this.blobs.set(name, { bytes: Buffer.concat(chunks), contentType: opts.contentType, modifiedAt: new Date() });
  }

  async get(name: string, range?: ByteRange) {
    const b = this.blobs.get(name);
    if (!b) throw new BlobNotFoundError(name);
    return ReadableStream.from([range ? b.bytes.subarray(range.start, range.start + range.length) : b.bytes]);
  }

  async delete(name: string) {
    if (this.failDeletes) throw this.failDeletes;
    this.blobs.delete(name);
  }

  async *list() {
    for (const name of [...this.blobs.keys()].sort()) yield { name, modifiedAt: this.blobs.get(name)!.modifiedAt };
  }
}

/** The outbox in memory, with the same claim rules as the database one (due, lease, lease token). */
export class FakePushJobRepository implements PushJobRepository {
  readonly rows: PushJob[] = [];
  private leases = 0;
  /** Ids are never reused, also after a delete. */
  private highestId = 0;
  private readonly listeners: ((rows: OutboxRow[]) => void)[] = [];

  constructor(private readonly cids: (uid: number) => string | null) {}

  async enqueue(jobs: NewPushJob[], now: Date) {
    return this.add(jobs, now);
  }

  /** Writes jobs at once: what enqueue does, and what the other fakes call when they write pushes with their rows. */
  add(jobs: NewPushJob[], now: Date): PushJob[] {
    if (jobs.length === 0) return [];
    const rows = jobs.map((j) => {
      const id = ++this.highestId;
      const row = Object.assign(new PushJob(), {
        ...j,
        cid: j.cid ?? null,
        id,
        requestId: `req${String(id).padStart(10, '0')}`,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        leaseToken: null,
        lockedUntil: null,
        lastError: null,
        createdAt: now,
        updatedAt: now,
        sentAt: null,
      });
      this.rows.push(row);
      return row;
    });
    for (const listener of this.listeners) listener(rows.map(copyOf));
    return rows.map(copyOf);
  }

  async claimDue(now: Date, limit: number, leaseMs: number): Promise<ClaimedPushJob[]> {
    const token = `lease${++this.leases}`;
    const until = new Date(now.getTime() + leaseMs);
    return this.rows
      .filter((r) => (r.status === 'pending' || r.status === 'sending') && r.nextAttemptAt <= now)
      .slice(0, limit)
      .map((r) => {
        Object.assign(r, {
          status: 'sending',
          attempts: r.attempts + 1,
          leaseToken: token,
          lockedUntil: until,
          nextAttemptAt: until,
          updatedAt: now,
        });
        return { job: Object.assign(new PushJob(), r), cid: r.cid ?? this.cids(r.receiverUid) };
      });
  }

  async record(job: PushJob, outcome: PushJobOutcome, now: Date) {
    const row = this.rows.find((r) => r.id === job.id && r.status === 'sending' && r.leaseToken === job.leaseToken);
    if (!row) return false;
    Object.assign(row, { leaseToken: null, lockedUntil: null, updatedAt: now, status: outcome.status });
    if (outcome.status === 'sent') Object.assign(row, { sentAt: now, lastError: null });
    else row.lastError = outcome.error.slice(0, 512);
    if (outcome.status === 'pending') row.nextAttemptAt = outcome.nextAttemptAt;
    return true;
  }

  async deleteFinishedBefore(before: Date, limit: number) {
    const doomed = this.rows.filter((r) => ['sent', 'failed', 'skipped'].includes(r.status) && r.updatedAt < before).slice(0, limit);
    for (const r of doomed) this.rows.splice(this.rows.indexOf(r), 1);
    return doomed.length;
  }

  async recordSent(jobs: PushJob[], now: Date) {
    let kept = 0;
    for (const job of jobs) if (await this.record(job, { status: 'sent' }, now)) kept++;
    return kept;
  }

  async backlog(now: Date) {
    const undelivered = this.rows.filter((r) => r.status === 'pending' || r.status === 'sending');
    const due = undelivered.filter((r) => r.nextAttemptAt <= now).map((r) => r.nextAttemptAt.getTime());
    return { pending: undelivered.length, oldestDueAt: due.length ? new Date(Math.min(...due)) : null };
  }

  onCommitted(listener: (rows: OutboxRow[]) => void) {
    this.listeners.push(listener);
  }

  async lastId() {
    return this.rows.reduce((max, r) => Math.max(max, r.id), 0);
  }

  async listForReceivers(afterId: number, receiverUids: number[], limit: number) {
    const uids = new Set(receiverUids);
    return this.rows
      .filter((r) => r.id > afterId && uids.has(r.receiverUid))
      .slice(0, limit)
      .map(copyOf);
  }
}

/** A push provider that answers from a script (default: sent) and remembers every push. */
export class ScriptedPushProvider implements PushProvider {
  readonly description = 'scripted';
  readonly sent: PushMessage[] = [];
  next: (m: PushMessage) => Promise<PushResult> | PushResult = () => ({ outcome: 'sent' });

  async send(m: PushMessage) {
    this.sent.push(m);
    return this.next(m);
  }
}

export class FakeVerificationCodeRepository implements VerificationCodeRepository {
  readonly rows: VerificationCode[] = [];
  /** Ids are never reused, also after a delete. */
  private lastId = 0;

  async replace(code: NewVerificationCode) {
    const existing = this.rows.find((r) => r.phoneHash === code.phoneHash);
    if (existing) Object.assign(existing, code, { attempts: 0, usedAt: null });
    else this.rows.push(Object.assign(new VerificationCode(), { ...code, id: ++this.lastId, attempts: 0, usedAt: null }));
  }

  async findByPhoneHash(phoneHash: string) {
    const r = this.rows.find((x) => x.phoneHash === phoneHash);
    return r ? Object.assign(new VerificationCode(), r) : null;
  }

  async countWrongTry(id: number, maxAttempts: number) {
    const r = this.rows.find((x) => x.id === id);
    if (!r || r.attempts >= maxAttempts) return false;
    r.attempts += 1;
    return true;
  }

  async claim(id: number, codeHash: string, maxAttempts: number, now: Date) {
    const r = this.rows.find((x) => x.id === id);
    if (!r || r.codeHash !== codeHash || r.usedAt !== null || r.attempts >= maxAttempts || r.expiresAt <= now) return false;
    r.usedAt = now;
    return true;
  }

  async remove(phoneHash: string, codeHash: string) {
    const i = this.rows.findIndex((x) => x.phoneHash === phoneHash && x.codeHash === codeHash);
    if (i >= 0) this.rows.splice(i, 1);
  }

  async deleteExpired(before: Date, limit: number) {
    const doomed = this.rows.filter((r) => r.expiresAt < before).slice(0, limit);
    for (const r of doomed) this.rows.splice(this.rows.indexOf(r), 1);
    return doomed.length;
  }
}

/** An SMS provider that keeps what it was asked to send; `failWith` makes the next sends fail. */
export class FakeSmsProvider implements SmsProvider {
  readonly description = 'fake';
  readonly sent: VerificationSms[] = [];
  failWith: SmsDeliveryError | null = null;

  async sendVerificationCode(sms: VerificationSms) {
    if (this.failWith) throw this.failWith;
    this.sent.push(sms);
  }

  lastCode(): string | undefined {
    return this.sent[this.sent.length - 1]?.code;
  }
}

/** Fixed-window counters in memory on the test's clock; rules not given are unlimited. */
export class FakeRateLimiter implements RateLimiter {
  readonly windows = new Map<string, { used: number; resetAt: number }>();

  constructor(
    private readonly rules: Partial<Record<RateLimitName, RateLimitRule>>,
    private readonly now: () => Date,
  ) {}

  async consume(charges: RateLimitCharge[]): Promise<RateDecision> {
    const t = this.now().getTime();
    const limited = charges
      .filter((c) => this.rules[c.rule])
      .map((c) => {
        const rule = this.rules[c.rule]!;
        const id = `${c.rule}:${c.key}`;
        let w = this.windows.get(id);
        if (!w || w.resetAt <= t) w = { used: 0, resetAt: t + rule.durationSeconds * 1000 };
        return { id, w, rule };
      });
    const cost = (id: string) => charges.find((c) => `${c.rule}:${c.key}` === id)?.points ?? 1;
    const refused = limited.filter((l) => l.w.used + cost(l.id) > l.rule.points);
    if (refused.length) return { allowed: false, retryAfterMs: Math.max(...refused.map((l) => l.w.resetAt - t)) };
    let nextInMs = 0;
    for (const l of limited) {
      l.w.used += cost(l.id);
      this.windows.set(l.id, l.w);
      if (l.w.used >= l.rule.points) nextInMs = Math.max(nextInMs, l.w.resetAt - t);
    }
    return { allowed: true, nextInMs };
  }

  async reward(charges: RateLimitCharge[]) {
    for (const c of charges) {
      const w = this.windows.get(`${c.rule}:${c.key}`);
      if (w) w.used = Math.max(0, w.used - (c.points ?? 1));
    }
  }

  /** Points spent so far in the current window of a rule and key. */
  used(rule: RateLimitName, key: string): number {
    const w = this.windows.get(`${rule}:${key}`);
    return w && w.resetAt > this.now().getTime() ? w.used : 0;
  }

  async close() {}
}

/** Records every push instead of delivering it. */
export class MemoryPushQueue implements PushQueue {
  readonly items: PushItem[] = [];

  async enqueue(items: PushItem[]) {
    this.items.push(...items);
  }
}

/** Friendships and blocks in memory, with the same one-row-per-pair rules as the database. */
export class FakeSocialRepository implements SocialRepository {
  /** `id` orders rows as the database's ids do (ties of updatedAt); ids are never reused. */
  readonly friendships: {
    id: number;
    userLow: number;
    userHigh: number;
    requesterUid: number;
    state: FriendshipState;
    createdAt: Date;
    updatedAt: Date;
  }[] = [];
  readonly blocks: { id: number; blockerUid: number; blockedUid: number; createdAt: Date }[] = [];
  discoverCalls = 0;
  failNextDiscover: Error | null = null;
  private lastId = 0;

  constructor(private readonly users: FakeUserRepository) {}

  private row(a: number, b: number) {
    const p = pairOf(a, b);
    return this.friendships.find((f) => f.userLow === p.userLow && f.userHigh === p.userHigh);
  }

  hasBlocked(blocker: number, blocked: number): boolean {
    return this.blocks.some((b) => b.blockerUid === blocker && b.blockedUid === blocked);
  }

  async relation(viewerUid: number, otherUid: number): Promise<Relation> {
    const f = this.row(viewerUid, otherUid);
    return {
      state: f?.state ?? null,
      requesterUid: f?.requesterUid ?? null,
      viewerBlocked: this.hasBlocked(viewerUid, otherUid),
      blockedByOther: this.hasBlocked(otherUid, viewerUid),
    };
  }

  async userWithRelation(viewerUid: number, otherUid: number): Promise<{ user: User; relation: Relation } | null> {
    const user = await this.users.findById(otherUid);
    return user ? { user, relation: await this.relation(viewerUid, otherUid) } : null;
  }

  async requestFriend(fromUid: number, toUid: number, now: Date): Promise<FriendRequestOutcome> {
    const f = this.row(fromUid, toUid);
    if (!f) {
      this.friendships.push({
        id: ++this.lastId,
        ...pairOf(fromUid, toUid),
        requesterUid: fromUid,
        state: FriendshipState.REQUESTED,
        createdAt: now,
        updatedAt: now,
      });
      return { state: FriendshipState.REQUESTED, created: true, accepted: false };
    }
    if (f.state === FriendshipState.FRIENDS || f.requesterUid === fromUid) return { state: f.state, created: false, accepted: false };
    Object.assign(f, { state: FriendshipState.FRIENDS, updatedAt: now });
    return { state: FriendshipState.FRIENDS, created: false, accepted: true };
  }

  async removeFriendship(a: number, b: number) {
    const f = this.row(a, b);
    if (f) this.friendships.splice(this.friendships.indexOf(f), 1);
  }

  async block(blockerUid: number, blockedUid: number, now: Date) {
    if (!this.hasBlocked(blockerUid, blockedUid)) this.blocks.push({ id: ++this.lastId, blockerUid, blockedUid, createdAt: now });
    await this.removeFriendship(blockerUid, blockedUid);
  }

  async unblock(blockerUid: number, blockedUid: number) {
    const i = this.blocks.findIndex((b) => b.blockerUid === blockerUid && b.blockedUid === blockedUid);
    if (i >= 0) this.blocks.splice(i, 1);
  }

  /** An account's deletion: its friendships, requests and blocks both ways go. */
  forgetAccount(uid: number) {
    const gone = this.friendships.filter((f) => f.userLow === uid || f.userHigh === uid || f.requesterUid === uid);
    for (const f of gone) this.friendships.splice(this.friendships.indexOf(f), 1);
    const unblocked = this.blocks.filter((b) => b.blockerUid === uid || b.blockedUid === uid);
    for (const b of unblocked) this.blocks.splice(this.blocks.indexOf(b), 1);
  }

  private async others(uid: number, state: FriendshipState) {
    const rows = this.friendships
      .filter((f) => f.state === state && (f.userLow === uid || f.userHigh === uid))
      .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || b.id - a.id);
    return rows.map((f) => ({ other: f.userLow === uid ? f.userHigh : f.userLow, requester: f.requesterUid }));
  }

  private async usersOf(uids: number[]) {
    return (await Promise.all(uids.map((id) => this.users.findById(id)))).filter((u): u is User => u !== null);
  }

  async listFriends(uid: number) {
    return this.usersOf((await this.others(uid, FriendshipState.FRIENDS)).map((r) => r.other));
  }

  async listRequests(uid: number) {
    const rows = await this.others(uid, FriendshipState.REQUESTED);
    return {
      incoming: await this.usersOf(rows.filter((r) => r.requester !== uid && !this.hasBlocked(uid, r.other)).map((r) => r.other)),
      outgoing: await this.usersOf(rows.filter((r) => r.requester === uid).map((r) => r.other)),
    };
  }

  async listBlocked(uid: number) {
    const mine = this.blocks
      .filter((b) => b.blockerUid === uid)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);
    return this.usersOf(mine.map((b) => b.blockedUid));
  }

  async friendsAmong(uid: number, candidates: number[]) {
    return new Set(candidates.filter((c) => this.row(uid, c)?.state === FriendshipState.FRIENDS));
  }

  async discover(viewerUid: number, phoneHashes: string[]) {
    this.discoverCalls++;
    if (this.failNextDiscover) {
      const e = this.failNextDiscover;
      this.failNextDiscover = null;
      throw e;
    }
    return this.users.rows
      .filter((u) => phoneHashes.includes(u.phoneHash) && u.discoverable && u.uid !== viewerUid && !this.hasBlocked(u.uid, viewerUid))
      .map(copyOf);
  }

  async updateSettings(uid: number, patch: SettingsPatch, now: Date) {
    const u = this.users.rowOf(uid);
    if (!u) return null;
    if (patch.whoCanSendMe !== undefined) u.whoCanSendMe = patch.whoCanSendMe;
    if (patch.discoverable !== undefined) u.discoverable = patch.discoverable;
    u.updatedAt = now;
    return copyOf(u);
  }
}

/** The other fakes an account's rows live in; each one given is kept in step as the database's tables are. */
export interface AccountFakes {
  messages?: FakeMessageRepository;
  social?: FakeSocialRepository;
  codes?: FakeVerificationCodeRepository;
  outbox?: FakePushJobRepository;
}

/** Sign-out, number change and deletion over a FakeUserRepository's rows (and the other fakes given). */
export class FakeAccountLifecycleRepository implements AccountLifecycleRepository {
  /** The accounts deleted so far. */
  readonly deleted: number[] = [];
  /** Blobs each deletion leaves to delete after commit, besides those of the linked messages fake. */
  blobsOf: (uid: number) => string[] = () => [];

  constructor(
    private readonly users: FakeUserRepository,
    private readonly linked: AccountFakes = {},
  ) {}

  async signOut(uid: number, ukeyHash: string, now: Date) {
    const u = this.users.rowOf(uid);
    if (!u) return false;
    Object.assign(u, { cid: null, ukeyHash, updatedAt: now });
    for (const job of this.linked.outbox?.rows ?? []) {
      if (job.receiverUid === uid && job.status === 'pending' && job.cid === null)
        Object.assign(job, { status: 'skipped', lastError: 'the receiver signed out', updatedAt: now });
    }
    return true;
  }

  async changeNumber(uid: number, change: NumberChange): Promise<NumberChangeOutcome> {
    const u = this.users.rowOf(uid);
    if (!u) return { ok: false, reason: 'gone' };
    if (this.users.rows.some((other) => other.uid !== uid && other.phoneHash === change.phoneHash)) return { ok: false, reason: 'taken' };
    const { now, ...fields } = change;
    Object.assign(u, fields, { updatedAt: now, lastSeenAt: now });
    return { ok: true, user: copyOf(u) };
  }

  async deleteAccount(uid: number, now: Date, receipts?: ReceiptJobs): Promise<AccountDeletion> {
    const i = this.users.rows.findIndex((u) => u.uid === uid);
    if (i < 0) return { found: false, phoneHash: '', objectNames: [], counts: {} };
    const objectNames = this.linked.messages?.forgetAccount(uid, now, receipts) ?? [];
    this.linked.social?.forgetAccount(uid);
    const [user] = this.users.rows.splice(i, 1);
    const code = this.linked.codes?.rows.findIndex((c) => c.phoneHash === user.phoneHash) ?? -1;
    if (code >= 0) this.linked.codes!.rows.splice(code, 1);
    const outbox = this.linked.outbox?.rows ?? [];
    for (const job of outbox.filter((j) => j.receiverUid === uid)) outbox.splice(outbox.indexOf(job), 1);
    this.deleted.push(uid);
    return { found: true, phoneHash: user.phoneHash, objectNames: [...objectNames, ...this.blobsOf(uid)], counts: {} };
  }

  /** The phone hashes whose pushes were forgotten. */
  readonly forgotten: string[] = [];

  async forgetInPushes(phoneHash: string) {
    this.forgotten.push(phoneHash);
    const outbox = this.linked.outbox?.rows ?? [];
    const naming = outbox.filter((j) => j.payload.includes(phoneHash));
    for (const job of naming) outbox.splice(outbox.indexOf(job), 1);
    return naming.length;
  }
}

/** The export's rows: the user, with what the linked fakes hold about it (nothing without them; no groups). */
export class FakeAccountExportRepository implements AccountExportRepository {
  constructor(
    private readonly users: FakeUserRepository,
    private readonly linked: Pick<AccountFakes, 'messages' | 'social'> = {},
  ) {}

  async rowsOf(uid: number): Promise<AccountRows | null> {
    const user = await this.users.findById(uid);
    if (!user) return null;
    const person = (id: number) => ({ uid: id, nickname: this.users.rowOf(id)?.nickname ?? '' });
    const friendships = (this.linked.social?.friendships ?? [])
      .filter((f) => f.userLow === uid || f.userHigh === uid)
      .sort((a, b) => a.id - b.id)
      .map((f) => ({
        other: person(f.userLow === uid ? f.userHigh : f.userLow),
        state: f.state,
        requesterUid: f.requesterUid,
        createdAt: f.createdAt,
        updatedAt: f.updatedAt,
      }));
    const blocks = (this.linked.social?.blocks ?? [])
      .filter((b) => b.blockerUid === uid)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id - b.id)
      .map((b) => ({ other: person(b.blockedUid), createdAt: b.createdAt }));
    const exported = (m: Message, other: number): ExportedMessage => ({
      id: m.id,
      other: person(other),
      groupId: m.groupId,
      sendTime: m.sendTime,
      exist: m.exist,
      endReason: m.endReason,
      endedAt: m.endedAt,
      downloadedAt: m.downloadedAt,
      screenshotAt: m.screenshotAt,
      filetype: m.image.filetype,
      size: m.image.size,
      expiresAt: m.image.expiresAt,
      imageEndedAt: m.image.endedAt,
    });
    const messages = this.linked.messages?.messages ?? [];
    return {
      user,
      friendships,
      blocks,
      groups: [],
      sent: messages.filter((m) => m.senderUid === uid).map((m) => exported(m, m.receiverUid)),
      received: messages.filter((m) => m.receiverUid === uid && m.endReason !== 'blocked').map((m) => exported(m, m.senderUid)),
    };
  }
}

/** A fresh fake of every repository, wired to each other as the database's tables are. */
export function linkedFakes() {
  const users = new FakeUserRepository();
  const messages = new FakeMessageRepository(users);
  const outbox = new FakePushJobRepository((uid) => users.rowOf(uid)?.cid ?? null);
  const codes = new FakeVerificationCodeRepository();
  const social = new FakeSocialRepository(users);
  users.endPending = (uid, now, receipts) => messages.endPendingFor(uid, now, receipts);
  users.outbox = outbox;
  messages.outbox = outbox;
  messages.hasBlocked = (blocker, blocked) => social.hasBlocked(blocker, blocked);
  const lifecycle = new FakeAccountLifecycleRepository(users, { messages, social, codes, outbox });
  const exports = new FakeAccountExportRepository(users, { messages, social });
  return { users, messages, pushJobs: outbox, codes, social, lifecycle, exports };
}
