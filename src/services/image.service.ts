import { createHash, randomBytes } from 'node:crypto';
import { finished, pipeline, type Readable, Transform } from 'node:stream';
import { finished as streamEnded } from 'node:stream/promises';
import { BlobNotFoundError, BlobStore } from '../adapters/blob-store';
import { RateLimiter, unlimited } from '../adapters/rate-limiter';
import { Message } from '../entities/message.entity';
import type { User } from '../entities/user.entity';
import {
  AppError,
  BadInputError,
  ForbiddenError,
  GoneError,
  isAppError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  StorageError,
  UnsupportedMediaTypeError,
} from '../errors';
import type { Logger } from '../logger';
import type { GrantRef, MessageRepository, NewMessage, ReceiptJobs } from '../repositories/message.repository';
import { DeliveryStatus, SentImageView } from './sent-image';
import type { UserRepository } from '../repositories/user.repository';
import type { DownloadTokens } from './download-tokens';
import { KeyWrapper, NEW_IMAGE_CIPHER, newImageKey, RELAY_BUFFER_BYTES, SEGMENT_BYTES, sealedRange, sealedSize, segmentBytesOf, SegmentDecryptor, SegmentEncryptor } from './image-cipher';
import { BatchLoader } from './batch.loader';
import { ImageMeter } from './image-meter';
import { Metrics, noMetrics } from './metrics';
import { sniffImageType, SNIFF_BYTES } from './image-type';
import { PHONE_HASH } from './phone';
import type { PushOutbox } from './push.outbox';
import { imagePushPayload, PUSH_KIND_IMAGE, screenshotPush } from './push.payloads';

/** The live file part of a multipart request: its bytes arrive while the send runs. */
export interface IncomingFile {
  stream: Readable;
}

export interface ImageServiceOptions {
  maxImageBytes: number;
  imageTtlSeconds: number;
  downloadUrlTtlSeconds: number;
  publicUrl: string;
  /** ENCRYPTION_KEY: wraps each image's key. Without it (unit tests) blobs are stored as sent. */
  keys?: KeyWrapper;
  /** Signs the deletion receipts pushed to senders; without it (unit tests) none are sent. */
  receipts?: ReceiptJobs;
  /** A fully downloaded, unconfirmed message is confirmed this long after its first complete download. */
  autoConfirmSeconds?: number;
  /** False only for the benchmark's comparison (ENCRYPTION=off): new blobs are stored as sent. */
  encryptUploads?: boolean;
}

export interface Download {
  /**
   * The bytes asked for. Their last bytes leave only once the grant is used up (when they end
   * the image), so a client that has every byte always finds its URL used up.
   */
  stream: Readable;
  /** The whole image's size. */
  size: number;
  filetype: string;
  /** The bytes `stream` carries, inclusive (the whole image unless a range was asked for). */
  start: number;
  end: number;
}

/** An HTTP byte range (inclusive), already resolved against the image's size. */
export interface RequestedRange {
  start: number;
  end: number;
}

/** A one-to-one send goes ahead, or (the receiver blocked the sender) is read and discarded. */
export type DirectDelivery = 'deliver' | 'discard';

export interface GroupDelivery {
  groupId: number;
  /** Other members who get the image. */
  deliver: number[];
  /** Other members who blocked the sender: their messages are born ended. */
  discard: number[];
}

/** What a send needs to know of the social graph (blocks, whoCanSendMe, group membership). */
export interface SendAudience {
  /** FORBIDDEN when the receiver does not take images from the sender. */
  direct(sender: User, receiver: User): Promise<DirectDelivery>;
  /** NOT_FOUND when the sender is not a member of the group. */
  group(sender: User, groupId: number): Promise<GroupDelivery>;
}

/** Everything a send will write once the upload is in. */
interface SendPlan {
  objectName: string;
  sendTime: Date;
  messages: NewMessage[];
}

/** What the sender chooses about one send. */
export interface SendChoices {
  /** The image's lifetime: MIN_TTL_SECONDS up to imageTtlSeconds (the default). */
  ttlSeconds?: number | null;
  /** Client-encrypted bytes the server stores without reading (no type check). */
  sealed?: boolean | null;
}

const SEALED_FILETYPE = 'application/octet-stream';

const USED_UP = 'This download link has served its one download; ask for the image again for a new one';

/** A grant's byte budget is stored in a 32-bit column. */
const MAX_GRANT_BUDGET = 2 ** 31 - 1;

/** The shortest lifetime a sender may choose. */
const MIN_TTL_SECONDS = 60;

/** Sending, listing, downloading and confirming view-once images. */
export class ImageService {
  constructor(
    private readonly messages: MessageRepository,
    private readonly users: UserRepository,
    private readonly audience: SendAudience,
    private readonly blobs: BlobStore,
    private readonly tokens: DownloadTokens,
    private readonly pushes: Pick<PushOutbox, 'committed' | 'enqueue'>,
    private readonly options: ImageServiceOptions,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly limiter: RateLimiter = unlimited,
    private readonly metrics: Metrics = noMetrics,
  ) {}

  /** Bytes of cut-short responses being given back to their grants, by grant id. */
  private readonly releasing = new Map<number, Promise<void>>();

  /**
   * Streams the upload into the blob store while it arrives (counted, hashed, its type read from
   * its first bytes), then records the message. On any failure nothing is kept: the upload is
   * drained, a stored blob is deleted, and no row is written.
   */
  async send(
    sender: User,
    receiverUid: number,
    upload: IncomingFile | Promise<IncomingFile>,
    declaredSize?: number | null,
    choices: SendChoices = {},
  ): Promise<Message> {
    const [message] = await this.receive(sender, upload, declaredSize, choices, async () => {
      const receiver = await this.users.findById(receiverUid);
      if (!receiver) throw new NotFoundError('Receiver');
      const delivery = await this.audience.direct(sender, receiver);
      const sendTime = this.now();
      const messageKey = newMessageKey(sender.uid, receiver.uid, sendTime);
      const message: NewMessage = { messageKey, senderUid: sender.uid, receiverUid: receiver.uid, sendTime };
      if (delivery === 'discard') message.endReason = 'blocked';
      return { objectName: messageKey, sendTime, messages: [message] };
    });
    return message;
  }

  /**
   * One upload, one blob (named by a fresh random key), one message per other member of the
   * group, each with its own key, inserted together with one push per delivered message.
   */
  async sendToGroup(
    sender: User,
    groupId: number,
    upload: IncomingFile | Promise<IncomingFile>,
    declaredSize?: number | null,
  ): Promise<Message[]> {
    const messages = await this.receive(sender, upload, declaredSize, {}, async () => {
      const delivery = await this.audience.group(sender, groupId);
      const sendTime = this.now();
      const message = (receiverUid: number): NewMessage => ({
        messageKey: newMessageKey(sender.uid, receiverUid, sendTime),
        senderUid: sender.uid,
        receiverUid,
        sendTime,
        groupId,
      });
      return {
        objectName: randomBytes(32).toString('hex'),
        sendTime,
        messages: [
          ...delivery.deliver.map(message),
          ...delivery.discard.map((uid): NewMessage => ({ ...message(uid), endReason: 'blocked' })),
        ],
      };
    });
    return messages;
  }

  /**
   * The part every send shares: checks the declared size, asks `plan` who the image goes to,
   * then stores the upload once and writes the image with its messages. When every message is
   * born ended (all receivers blocked the sender), the upload is read and checked the same way
   * but nothing is stored, so the answer looks the same.
   */
  private async receive(
    sender: User,
    upload: IncomingFile | Promise<IncomingFile>,
    declaredSize: number | null | undefined,
    choices: SendChoices,
    plan: () => Promise<SendPlan>,
  ): Promise<Message[]> {
    const file = Promise.resolve(upload);
    const size = declaredSize ?? undefined;
    let source: Readable | undefined;
    let taken = false;
    try {
      if (size !== undefined && (!Number.isSafeInteger(size) || size < 1)) {
        throw new BadInputError('size must be the image size in bytes (a positive whole number)', 'size');
      }
      if (size !== undefined && size > this.options.maxImageBytes) throw new PayloadTooLargeError(this.options.maxImageBytes);
      const ttl = choices.ttlSeconds ?? this.options.imageTtlSeconds;
      if (!Number.isSafeInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > this.options.imageTtlSeconds) {
        throw new BadInputError(`ttlSeconds must be between ${MIN_TTL_SECONDS} and ${this.options.imageTtlSeconds}`, 'ttlSeconds');
      }
      const decision = await this.limiter.consume([{ rule: 'sendUser', key: String(sender.uid) }]);
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs / 1000);
      const { objectName, sendTime, messages } = await plan();
      const incoming = (await file.catch((e) => Promise.reject(uploadError(e)))).stream;
      // One upload used as two arguments reaches two sends: the second must not wait for bytes
      // the first has taken.
      taken = !claim(incoming);
      if (taken) throw new BadInputError('An uploaded file can be used by one argument only', 'image');
      source = incoming;

      const keep = messages.some((m) => !m.endReason);
      const stored = await this.store(keep ? objectName : null, source, size, choices.sealed === true);
      const expiresAt = new Date(sendTime.getTime() + ttl * 1000);
      try {
        // Each delivered message and its push are written in one transaction; the outbox sends
        // the push, so the sender never waits on GeTui.
        const rows = await this.messages.createImageWithMessages(
          {
            objectName,
            filetype: stored.filetype,
            size: stored.size,
            sha256: stored.sha256,
            cipher: stored.cipher,
            wrappedKey: stored.wrappedKey,
            keyId: stored.keyId,
            createdAt: sendTime,
            expiresAt,
            discarded: !keep,
          },
          messages,
          (m) =>
            m.endReason === 'blocked'
              ? null
              : {
                  receiverUid: m.receiverUid,
                  kind: PUSH_KIND_IMAGE,
                  payload: imagePushPayload({
                    senderRegion: sender.regionNum,
                    senderPhoneHash: sender.phoneHash,
                    messageId: m.id,
                    messageKey: m.messageKey,
                    sendTime: m.sendTime,
                    groupId: m.groupId ?? undefined,
                  }),
                  expiresAt,
                },
        );
        this.pushes.committed();
        this.metrics.imageSent(stored.size);
        // The sender sees every send alike: a discarded one looks like an image never opened.
        return rows.map((row) => Object.assign(new Message(), row, { sender, exist: true }));
      } catch (e) {
        if (keep) await this.blobs.delete(objectName).catch((err) => this.log.error({ err, objectName }, 'could not remove blob of a failed send'));
        if (isAppError(e)) throw e;
        // The database failed: to the client this is the same as a store failure, nothing kept.
        this.log.error({ err: e, objectName }, 'could not record a send');
        throw new StorageError(e);
      }
    } catch (e) {
      drain(source);
      if (!source && !taken) file.then((f) => claim(f.stream) && drain(f.stream), () => undefined);
      throw e;
    }
  }

  /** Reads the upload through the meter into the store, or into nothing when `name` is null. */
  private async store(name: string | null, source: Readable, size: number | undefined, sealed: boolean) {
    const { head, ended } = await readHead(source, SNIFF_BYTES);
    // Sealed bytes are encrypted by the client for the receiver: the server cannot read them, so it does not try.
    const filetype = sealed ? SEALED_FILETYPE : await sniffImageType(head);
    if (!filetype) throw new UnsupportedMediaTypeError();
    const meter = new ImageMeter(this.options.maxImageBytes, size);
    // The store reads these streams' errors (and meter.errored below); one that comes after the
    // store gave up (the client left) must not stop the process.
    meter.on('error', () => undefined);
    // The key exists only in memory until the row that holds it (wrapped) is committed.
    const sealing = name !== null && this.options.keys && this.options.encryptUploads !== false ? newImageKey() : null;
    const cipher = NEW_IMAGE_CIPHER;
    const segment = segmentBytesOf(cipher);
    let body: Readable = meter;
    if (sealing) {
      // With the size declared, ciphertext leaves as the bytes arrive; without it a segment waits.
      // The upload's chunks are sealed where they lie: the multipart parser has finished with
      // the bytes it hands on (it keeps its own copy of any it must look at again).
      const encryptor = new SegmentEncryptor(sealing, segment, size);
      encryptor.on('error', () => undefined);
      meter.once('error', (e) => encryptor.destroy(e));
      body = meter.pipe(encryptor);
    }
    meter.write(head);
    if (ended) meter.end();
    else {
      // pipe() does not pass errors on: a client that goes away must fail the store's write too
      // (finished() also reports a failure that came while the type was being read).
      const stop = finished(source, (e) => {
        stop();
        if (e) meter.destroy(uploadError(e));
      });
      source.pipe(meter);
    }
    let put = false;
    try {
      if (name === null) await discard(body);
      else {
        await this.blobs.put(name, body, { size: size === undefined || !sealing ? size : sealedSize(size, segment), contentType: sealing ? 'application/octet-stream' : filetype });
        put = true;
      }
      // A store can have every byte before the upload has ended (S3 answers a PUT of declared
      // length as soon as it has them): the send counts only once the upload has ended whole, so
      // that a request cut off or malformed after the file's last byte keeps nothing.
      await streamEnded(meter, { readable: false });
    } catch (e) {
      source.unpipe(meter);
      if (put) await this.blobs.delete(name!).catch((err) => this.log.error({ err, objectName: name }, 'could not remove blob of a failed send'));
      const reason = meter.errored ?? e;
      if (isAppError(reason)) throw reason;
      this.log.error({ err: e, name }, 'blob store write failed');
      throw new StorageError(e);
    }
    return {
      filetype,
      size: meter.bytes,
      sha256: meter.digest(),
      cipher: sealing ? cipher : null,
      wrappedKey: sealing ? this.options.keys!.wrap(sealing, name!) : null,
      keyId: sealing ? this.options.keys!.keyId : null,
    };
  }

  /** One message addressed to the viewer; everyone else is told it does not exist. */
  async get(viewer: User, messageKey: string): Promise<Message> {
    const message = PHONE_HASH.test(messageKey) ? await this.messages.findForReceiver(messageKey, viewer.uid) : null;
    if (!message) throw new NotFoundError('Message');
    return this.withExpiry(message);
  }

  listPending(viewer: User, senderPhoneHash?: string | null): Promise<Message[]> {
    if (senderPhoneHash != null && !PHONE_HASH.test(senderPhoneHash)) {
      throw new BadInputError('senderPhoneHash must be 64 lowercase hex digits', 'senderPhoneHash');
    }
    return this.messages.listPending(viewer.uid, this.now(), senderPhoneHash ?? undefined);
  }

  /** What happened to the viewer's sent images, newest first. */
  async listSent(viewer: User): Promise<SentImageView[]> {
    const now = this.now();
    const rows = await this.messages.listSent(viewer.uid, 500);
    return rows.map((m) => {
      // A send to someone who blocked the sender looks like an image never opened.
      const blocked = m.endReason === 'blocked';
      const expired = m.image.expiresAt <= now;
      let status: DeliveryStatus;
      if (m.endReason === 'confirmed') status = DeliveryStatus.VIEWED;
      else if (m.exist && !expired) status = m.downloadedAt ? DeliveryStatus.DOWNLOADED : DeliveryStatus.PENDING;
      else if (blocked && !expired) status = DeliveryStatus.PENDING;
      else status = DeliveryStatus.EXPIRED;
      return {
        id: m.id,
        receiver: m.receiver!,
        sendTime: m.sendTime,
        status,
        downloadedAt: m.downloadedAt,
        destroyedAt: blocked ? null : m.image.endedAt,
        screenshotAt: m.screenshotAt,
      };
    });
  }

  /** The receiver reports a screenshot: recorded (the first time) and pushed to the sender. */
  async reportScreenshot(viewer: User, messageKey: string): Promise<boolean> {
    const now = this.now();
    const message = PHONE_HASH.test(messageKey) ? await this.messages.recordScreenshot(messageKey, viewer.uid, now) : null;
    if (!message) throw new NotFoundError('Message');
    if (message.screenshotAt?.getTime() === now.getTime()) await this.pushes.enqueue([{ receiverUid: message.senderUid, payload: screenshotPush(message.id) }]);
    return true;
  }

  /** The receiver has the image: the message ends and, with the last message, the blob goes. Idempotent. */
  async confirm(viewer: User, messageKey: string): Promise<Message> {
    if (!PHONE_HASH.test(messageKey)) throw new NotFoundError('Message');
    const now = this.now();
    const { message, orphanedImage } = await this.messages.endForReceiver(messageKey, viewer.uid, 'confirmed', now, this.options.receipts);
    if (!message) throw new NotFoundError('Message');
    if (orphanedImage) {
      this.pushes.committed();
      try {
        await this.blobs.delete(orphanedImage.objectName);
        await this.messages.markBlobDeleted(orphanedImage.id, now);
        this.metrics.imageDestroyed('viewed');
      } catch (err) {
        // The message has ended and no URL serves it; the orphan collector removes the blob later.
        this.log.error({ err, imageId: orphanedImage.id }, 'could not delete blob after confirm');
      }
    }
    return message;
  }

  /**
   * The original specification deletes an image once it has "finished downloading": a message
   * fully downloaded but never confirmed is confirmed AUTO_CONFIRM_SECONDS after its first
   * complete download. Returns how many were confirmed.
   */
  async autoConfirm(): Promise<number> {
    const due = await this.messages.listDownloadedBefore(new Date(this.now().getTime() - (this.options.autoConfirmSeconds ?? 300) * 1000), 100);
    let done = 0;
    for (const m of due) {
      try {
        await this.confirm({ uid: m.receiverUid } as User, m.messageKey);
        done++;
      } catch (err) {
        this.log.warn({ err }, 'could not auto-confirm a downloaded image; will retry');
      }
    }
    return done;
  }

  /**
   * A short-lived URL a plain GET can fetch, for the receiver of a live message only. A listing
   * hands out the message's grant again while it has served nothing and has at least half its
   * lifetime left (the same URL); otherwise it makes a new one: one complete download, then 410.
   * `grants` batches the lookups of one request (see grantLoader).
   */
  async downloadUrl(viewer: User, message: Message, grants: BatchLoader<number, GrantRef | null> = this.grantLoader()): Promise<string | null> {
    const now = this.now();
    if (message.receiverUid !== viewer.uid || !message.exist || message.image.expiresAt <= now) return null;
    const grant = await grants.load(message.id);
    if (!grant) return null;
    const until = Math.min(grant.createdAt.getTime() + this.options.downloadUrlTtlSeconds * 1000, message.image.expiresAt.getTime());
    return `${this.options.publicUrl}/download/${this.tokens.mint(message.messageKey, new Date(until), grant.id)}`;
  }

  /**
   * Finds the reusable grants of the messages a request lists in one query, and makes the
   * missing ones in one insert.
   */
  grantLoader(): BatchLoader<number, GrantRef | null> {
    return new BatchLoader(async (messageIds) => {
      const now = this.now();
      const halfLife = (this.options.downloadUrlTtlSeconds * 1000) / 2;
      const found = await this.messages.findUnusedGrants(messageIds, new Date(now.getTime() - halfLife));
      const missing = messageIds.filter((id) => !found.has(id));
      if (missing.length > 0) for (const [id, grantId] of await this.messages.createGrants(missing, now)) found.set(id, { id: grantId, createdAt: now });
      return found;
    }, null);
  }

  /**
   * Opens the bytes behind a download token (all, or `range` of them): FORBIDDEN when forged or
   * expired, NOT_FOUND once the image is gone, GONE once the URL served a complete download or
   * the bytes asked for would take it past the image plus one segment in all.
   */
  async openDownload(token: string, range?: (size: number) => RequestedRange | null): Promise<Download> {
    const checked = this.tokens.check(token, this.now());
    if (!checked.ok) {
      throw checked.reason === 'expired' ? new ForbiddenError('This download link has expired') : new ForbiddenError('Invalid download link');
    }
    const { grantId } = checked;
    const message = await this.messages.findByKey(checked.messageKey);
    if (!message || !this.withExpiry(message).exist) throw new NotFoundError('Image');
    const image = message.image;
    let wanted: RequestedRange;
    try {
      wanted = range?.(image.size) ?? { start: 0, end: image.size - 1 };
    } catch (e) {
      // A used-up URL says so, whatever range it is asked for.
      await this.refuseGrant(grantId, message.id);
      throw e;
    }
    const length = wanted.end - wanted.start + 1;
    const segment = image.cipher === null ? SEGMENT_BYTES : segmentBytesOf(image.cipher);
    // What a response that was cut short gives back must be back before this one is counted.
    await this.releasing.get(grantId);
    if (!(await this.messages.reserveGrantBytes(grantId, message.id, length, Math.min(image.size + segment, MAX_GRANT_BUDGET)))) {
      await this.refuseGrant(grantId, message.id);
      throw new GoneError(USED_UP);
    }
    const settle = (sent: number) => {
      if (sent >= length) return;
      const released = this.messages
        .releaseGrantBytes(grantId, length - sent)
        .catch((err) => this.log.error({ err, grantId }, 'could not give back the unsent bytes of a download'))
        .finally(() => {
          if (this.releasing.get(grantId) === released) this.releasing.delete(grantId);
        });
      this.releasing.set(grantId, released);
    };
    const delivered = async () => {
      if (wanted.end !== image.size - 1) return;
      // Two downloads racing on one URL: only the first to reach the end gets its last bytes.
      if (!(await this.messages.completeGrant(grantId, message.id, this.now()))) throw new GoneError(USED_UP);
    };
    const opened = { size: image.size, filetype: image.filetype, start: wanted.start, end: wanted.end };
    const whole = wanted.start === 0 && wanted.end === image.size - 1;
    try {
      if (image.cipher === null) {
        const stored = await this.blobs.get(image.objectName, whole ? undefined : { start: wanted.start, length });
        return { ...opened, stream: metered(pipeline(stored, lastChunkAfter(delivered), () => undefined), settle) };
      }
      if (!image.wrappedKey || !this.options.keys) throw new NotFoundError('Image');
      const key = this.options.keys.unwrap(image.wrappedKey, image.objectName, image.keyId);
      const r = sealedRange(image.size, wanted.start, wanted.end, segment);
      const sealed = await this.blobs.get(image.objectName, whole ? undefined : { start: r.storedStart, length: r.storedLength });
      // The store's chunks are ours alone: plaintext is written over them. pipeline: a failure on
      // either side (a tampered segment, a reader gone) closes both.
      const decryptor = new SegmentDecryptor(key, image.size, wanted.start, wanted.end, segment, { beforeLastBytes: delivered });
      return { ...opened, stream: metered(pipeline(sealed, decryptor, () => undefined), settle) };
    } catch (e) {
      settle(0);
      if (e instanceof BlobNotFoundError) {
        this.log.warn({ messageId: message.id }, 'live message has no blob');
        throw new NotFoundError('Image');
      }
      throw e;
    }
  }

  /** FORBIDDEN for a grant that is not the message's, GONE for one that is used up; nothing for a live one. */
  private async refuseGrant(grantId: number, messageId: number): Promise<void> {
    const grant = await this.messages.findGrant(grantId);
    if (!grant || grant.messageId !== messageId) throw new ForbiddenError('Invalid download link');
    if (grant.completed) throw new GoneError(USED_UP);
  }

  /** An image past its lifetime is never shown as pending, even before the sweeper ends it. */
  private withExpiry(message: Message): Message {
    if (message.exist && message.image.expiresAt <= this.now()) message.exist = false;
    return message;
  }
}

/**
 * The specification's hash of sender, receiver and time, with 128 random bits added so that
 * nobody can compute another person's key.
 */
export function newMessageKey(senderUid: number, receiverUid: number, at: Date): string {
  return createHash('sha256')
    .update(`${senderUid}:${receiverUid}:${at.getTime()}:${randomBytes(16).toString('hex')}`)
    .digest('hex');
}

/**
 * Holds back the last chunk until `record` has committed (a stored image's decryptor does the
 * same with its last segment). Room for 256 KiB, so the store's socket is read in large steps
 * while the client's drains (Node's 16 KiB default slows the relay down).
 */
function lastChunkAfter(record: () => Promise<void>): Transform {
  let held: Buffer | null = null;
  return new Transform({
    highWaterMark: RELAY_BUFFER_BYTES,
    transform(chunk: Buffer, _enc, done) {
      const previous = held;
      held = chunk;
      done(null, previous ?? undefined);
    },
    flush(done) {
      record().then(
        () => done(null, held ?? undefined),
        (err: Error) => done(err),
      );
    },
  });
}

/** Uploads a send has taken: each is read by one send only. */
const claimed = new WeakSet<Readable>();

/** Takes `stream` for one reader; false when another has it already. */
function claim(stream: Readable): boolean {
  if (claimed.has(stream)) return false;
  claimed.add(stream);
  return true;
}

/**
 * Counts the bytes the consumer takes from `stream` and tells `settle` once it closes, however
 * it ends. Paused first, so the counting listener only watches: the consumer's pipe starts the
 * flow.
 */
function metered(stream: Readable, settle: (sent: number) => void): Readable {
  let sent = 0;
  stream.pause();
  stream.on('data', (chunk: Buffer) => {
    sent += chunk.length;
  });
  stream.once('close', () => settle(sent));
  return stream;
}

/** Reads at least `n` bytes (or everything, if shorter) and leaves the stream paused. */
function readHead(source: Readable, n: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    // A stream that failed before anyone listened would never say so again.
    if (source.errored || (source.destroyed && !source.readableEnded)) {
      return reject(uploadError(source.errored ?? new Error('the request was cut off')));
    }
    if (source.readableEnded) return resolve({ head: Buffer.alloc(0), ended: true });
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (ended: boolean) => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      resolve({ head: Buffer.concat(chunks, length), ended });
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      length += c.length;
      if (length >= n) {
        source.pause();
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onError = (e: Error) => {
      source.off('data', onData);
      source.off('end', onEnd);
      reject(uploadError(e));
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
  });
}

/** Reads a stream to its end, keeping nothing; rejects when it fails. */
async function discard(stream: Readable): Promise<void> {
  for await (const _chunk of stream) {
    // nothing is kept
  }
}

/** Reads and discards what is left of an upload so the request can finish (never destroy it). */
function drain(source: Readable | undefined): void {
  if (!source || source.readableEnded) return;
  source.removeAllListeners('data');
  source.on('error', () => undefined);
  source.unpipe();
  source.resume();
}

function uploadError(e: unknown): AppError {
  if (isAppError(e)) return e;
  return new BadInputError(`The upload could not be read: ${(e as Error)?.message ?? 'unknown error'}`, 'image');
}
