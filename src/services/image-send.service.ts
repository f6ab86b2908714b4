import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { finished as streamEnded } from 'node:stream/promises';
import type { BlobStore } from '../adapters/blob-store';
import { RateLimiter, unlimited } from '../adapters/rate-limiter';
import { Message } from '../entities/message.entity';
import type { User } from '../entities/user.entity';
import {
  AppError,
  BadInputError,
  isAppError,
  PayloadTooLargeError,
  RateLimitedError,
  StorageError,
  UnsupportedMediaTypeError,
} from '../errors';
import type { Logger } from '../logger';
import type { MessageRepository, NewMessage } from '../repositories/message.repository';
import { KeyWrapper } from './cipher/key-wrapper';
import { SegmentEncryptor } from './cipher/segment-encryptor';
import { NEW_IMAGE_CIPHER, newImageKey, sealedSize, segmentBytesOf } from './cipher/segment-format';
import { ImageMeter } from './image-meter';
import { sniffImageType, SNIFF_BYTES } from './image-type';
import { Metrics, noMetrics } from './metrics';
import type { PushOutbox } from './push.outbox';
import { imagePushPayload, PUSH_KIND_IMAGE } from './push.payloads';
import type { SendAudience } from './send-audience';
import { claim, discard, drain, feed, readHead } from './streams';

/** The live file part of a multipart request: its bytes arrive while the send runs. */
export interface IncomingFile {
  stream: Readable;
}

/** What the sender chooses about one send. */
export interface SendChoices {
  /** The image's lifetime: MIN_TTL_SECONDS up to imageTtlSeconds (the default). */
  ttlSeconds?: number | null;
  /** Client-encrypted bytes the server stores without reading (no type check). */
  sealed?: boolean | null;
}

export interface ImageSendDeps {
  messages: Pick<MessageRepository, 'createImageWithMessages'>;
  audience: SendAudience;
  blobs: BlobStore;
  pushes: Pick<PushOutbox, 'committed'>;
  log: Logger;
  /** ENCRYPTION_KEY: wraps each image's key. Without it (unit tests) blobs are stored as sent. */
  keys?: KeyWrapper;
  now?: () => Date;
  limiter?: RateLimiter;
  metrics?: Metrics;
}

export interface ImageSendOptions {
  maxImageBytes: number;
  imageTtlSeconds: number;
  /** False only for the benchmark's comparison (ENCRYPTION=off): new blobs are stored as sent. */
  encryptUploads?: boolean;
}

/** Everything a send will write once the upload is in. */
interface SendPlan {
  objectName: string;
  sendTime: Date;
  messages: NewMessage[];
}

const SEALED_FILETYPE = 'application/octet-stream';

/** The shortest lifetime a sender may choose. */
const MIN_TTL_SECONDS = 60;

/** Sending view-once images, to one person or to a group. */
export class ImageSendService {
  private readonly now: () => Date;
  private readonly limiter: RateLimiter;
  private readonly metrics: Metrics;

  constructor(
    private readonly deps: ImageSendDeps,
    private readonly options: ImageSendOptions,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.limiter = deps.limiter ?? unlimited;
    this.metrics = deps.metrics ?? noMetrics;
  }

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
      const { receiver, delivery } = await this.deps.audience.direct(sender, receiverUid);
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
      const delivery = await this.deps.audience.group(sender, groupId);
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
        const rows = await this.deps.messages.createImageWithMessages(
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
        this.deps.pushes.committed();
        this.metrics.imageSent(stored.size);
        // The sender sees every send alike: a discarded one looks like an image never opened.
        return rows.map((row) => Object.assign(new Message(), row, { sender, exist: true }));
      } catch (e) {
        if (keep)
          await this.deps.blobs
            .delete(objectName)
            .catch((err) => this.deps.log.error({ err, objectName }, 'could not remove blob of a failed send'));
        if (isAppError(e)) throw e;
        // The database failed: to the client this is the same as a store failure, nothing kept.
        this.deps.log.error({ err: e, objectName }, 'could not record a send');
        throw new StorageError(e);
      }
    } catch (e) {
      drain(source);
      if (!source && !taken)
        file.then(
          (f) => claim(f.stream) && drain(f.stream),
          () => undefined,
        );
      throw e;
    }
  }

  /** Reads the upload through the meter into the store, or into nothing when `name` is null. */
  private async store(name: string | null, source: Readable, size: number | undefined, sealed: boolean) {
    const { head, ended } = await readHead(source, SNIFF_BYTES).catch((e) => Promise.reject(uploadError(e)));
    // Sealed bytes are encrypted by the client for the receiver: the server cannot read them, so it does not try.
    const filetype = sealed ? SEALED_FILETYPE : await sniffImageType(head);
    if (!filetype) throw new UnsupportedMediaTypeError();
    const meter = new ImageMeter(this.options.maxImageBytes, size);
    // The store reads these streams' errors (and meter.errored below); one that comes after the
    // store gave up (the client left) must not stop the process.
    meter.on('error', () => undefined);
    const keys = this.deps.keys;
    // The key exists only in memory until the row that holds it (wrapped) is committed.
    const sealing = name !== null && keys && this.options.encryptUploads !== false ? newImageKey() : null;
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
    // A client that goes away must fail the store's write too.
    feed(source, head, ended, meter, uploadError);
    let put = false;
    try {
      if (name === null) await discard(body);
      else {
        await this.deps.blobs.put(name, body, {
          size: size === undefined || !sealing ? size : sealedSize(size, segment),
          contentType: sealing ? 'application/octet-stream' : filetype,
        });
        put = true;
      }
      // A store can have every byte before the upload has ended (S3 answers a PUT of declared
      // length as soon as it has them): the send counts only once the upload has ended whole, so
      // that a request cut off or malformed after the file's last byte keeps nothing.
      await streamEnded(meter, { readable: false });
    } catch (e) {
      source.unpipe(meter);
      if (put)
        await this.deps.blobs
          .delete(name!)
          .catch((err) => this.deps.log.error({ err, objectName: name }, 'could not remove blob of a failed send'));
      const reason = meter.errored ?? e;
      if (isAppError(reason)) throw reason;
      this.deps.log.error({ err: e, name }, 'blob store write failed');
      throw new StorageError(e);
    }
    return {
      filetype,
      size: meter.bytes,
      sha256: meter.digest(),
      cipher: sealing ? cipher : null,
      wrappedKey: sealing ? keys!.wrap(sealing, name!) : null,
      keyId: sealing ? keys!.keyId : null,
    };
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

function uploadError(e: unknown): AppError {
  if (isAppError(e)) return e;
  return new BadInputError(`The upload could not be read: ${(e as Error)?.message ?? 'unknown error'}`, 'image');
}
