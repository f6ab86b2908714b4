import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobNotFoundError, BlobStore } from '../adapters/blob-store';
import { RateLimiter, unlimited } from '../adapters/rate-limiter';
import type { Message } from '../entities/message.entity';
import type { User } from '../entities/user.entity';
import {
  AppError,
  BadInputError,
  ForbiddenError,
  isAppError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  StorageError,
  UnsupportedMediaTypeError,
} from '../errors';
import type { Logger } from '../logger';
import type { MessageRepository } from '../repositories/message.repository';
import type { UserRepository } from '../repositories/user.repository';
import type { DownloadTokens } from './download-tokens';
import { ImageMeter } from './image-meter';
import { sniffImageType, SNIFF_BYTES } from './image-type';
import { PHONE_HASH } from './phone';
import type { PushOutbox } from './push.outbox';
import { imagePushPayload, PUSH_KIND_IMAGE } from './push.payloads';

/** The live file part of a multipart request: its bytes arrive while the send runs. */
export interface IncomingFile {
  stream: Readable;
}

export interface ImageServiceOptions {
  maxImageBytes: number;
  imageTtlSeconds: number;
  downloadUrlTtlSeconds: number;
  publicUrl: string;
}

export interface Download {
  stream: Readable;
  size: number;
  filetype: string;
}

/** Sending, listing, downloading and confirming view-once images. */
export class ImageService {
  constructor(
    private readonly messages: MessageRepository,
    private readonly users: UserRepository,
    private readonly blobs: BlobStore,
    private readonly tokens: DownloadTokens,
    private readonly pushes: Pick<PushOutbox, 'committed'>,
    private readonly options: ImageServiceOptions,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly limiter: RateLimiter = unlimited,
  ) {}

  /**
   * Streams the upload into the blob store while it arrives (counted, hashed, its type read from
   * its first bytes), then records the message and its push in one transaction. On any failure
   * nothing is kept: the upload is drained, a stored blob is deleted, and no row is written.
   * The push itself goes out from the outbox: the send never waits on the push provider.
   */
  async send(
    sender: User,
    receiverUid: number,
    upload: IncomingFile | Promise<IncomingFile>,
    declaredSize?: number | null,
  ): Promise<Message> {
    const file = Promise.resolve(upload);
    const size = declaredSize ?? undefined;
    let source: Readable | undefined;
    try {
      if (size !== undefined && (!Number.isSafeInteger(size) || size < 1)) {
        throw new BadInputError('size must be the image size in bytes (a positive whole number)', 'size');
      }
      if (size !== undefined && size > this.options.maxImageBytes) throw new PayloadTooLargeError(this.options.maxImageBytes);
      const decision = await this.limiter.consume([{ rule: 'sendUser', key: String(sender.uid) }]);
      if (!decision.allowed) throw new RateLimitedError(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
      const receiver = await this.users.findById(receiverUid);
      if (!receiver) throw new NotFoundError('Receiver');
      source = (await file.catch((e) => Promise.reject(uploadError(e)))).stream;

      const sendTime = this.now();
      const messageKey = newMessageKey(sender.uid, receiver.uid, sendTime);
      const stored = await this.store(messageKey, source, size);
      const expiresAt = new Date(sendTime.getTime() + this.options.imageTtlSeconds * 1000);
      try {
        const [message] = await this.messages.createImageWithMessages(
          {
            objectName: messageKey,
            filetype: stored.filetype,
            size: stored.size,
            sha256: stored.sha256,
            createdAt: sendTime,
            expiresAt,
          },
          [{ messageKey, senderUid: sender.uid, receiverUid: receiver.uid, sendTime }],
          (m) => ({
            receiverUid: m.receiverUid,
            kind: PUSH_KIND_IMAGE,
            payload: imagePushPayload({
              senderRegion: sender.regionNum,
              senderPhoneHash: sender.phoneHash,
              messageId: m.id,
              messageKey: m.messageKey,
              sendTime: m.sendTime,
            }),
            expiresAt,
          }),
        );
        this.pushes.committed();
        message.sender = sender;
        return message;
      } catch (e) {
        await this.blobs.delete(messageKey).catch((err) => this.log.error({ err, messageKey }, 'could not remove blob of a failed send'));
        throw e;
      }
    } catch (e) {
      drain(source);
      if (!source) file.then((f) => drain(f.stream), () => undefined);
      throw e;
    }
  }

  private async store(name: string, source: Readable, size: number | undefined) {
    const { head, ended } = await readHead(source, SNIFF_BYTES);
    const filetype = await sniffImageType(head);
    if (!filetype) throw new UnsupportedMediaTypeError();
    const meter = new ImageMeter(this.options.maxImageBytes, size);
    meter.write(head);
    if (ended) meter.end();
    else {
      // pipe() does not pass errors on: a client that goes away must fail the store's write too.
      source.once('error', (e) => meter.destroy(uploadError(e)));
      source.pipe(meter);
    }
    try {
      await this.blobs.put(name, meter, { size, contentType: filetype });
    } catch (e) {
      source.unpipe(meter);
      const reason = meter.errored ?? e;
      if (isAppError(reason)) throw reason;
      this.log.error({ err: e, name }, 'blob store write failed');
      throw new StorageError(e);
    }
    return { filetype, size: meter.bytes, sha256: meter.digest() };
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

  /** The receiver has the image: the message ends and, with the last message, the blob goes. Idempotent. */
  async confirm(viewer: User, messageKey: string): Promise<Message> {
    if (!PHONE_HASH.test(messageKey)) throw new NotFoundError('Message');
    const now = this.now();
    const { message, orphanedImage } = await this.messages.endForReceiver(messageKey, viewer.uid, 'confirmed', now);
    if (!message) throw new NotFoundError('Message');
    if (orphanedImage) {
      try {
        await this.blobs.delete(orphanedImage.objectName);
        await this.messages.markBlobDeleted(orphanedImage.id, now);
      } catch (err) {
        // The message has ended and no URL serves it; the orphan collector removes the blob later.
        this.log.error({ err, imageId: orphanedImage.id }, 'could not delete blob after confirm');
      }
    }
    return message;
  }

  /** A short-lived URL a plain GET can fetch, for the receiver of a live message only. */
  downloadUrl(viewer: User, message: Message): string | null {
    const now = this.now();
    if (message.receiverUid !== viewer.uid || !message.exist || message.image.expiresAt <= now) return null;
    const until = Math.min(now.getTime() + this.options.downloadUrlTtlSeconds * 1000, message.image.expiresAt.getTime());
    return `${this.options.publicUrl}/download/${this.tokens.mint(message.messageKey, new Date(until))}`;
  }

  /** Opens the bytes behind a download token: FORBIDDEN when forged or expired, NOT_FOUND once gone. */
  async openDownload(token: string): Promise<Download> {
    const checked = this.tokens.check(token, this.now());
    if (!checked.ok) {
      throw checked.reason === 'expired' ? new ForbiddenError('This download link has expired') : new ForbiddenError('Invalid download link');
    }
    const message = await this.messages.findByKey(checked.messageKey);
    if (!message || !this.withExpiry(message).exist) throw new NotFoundError('Image');
    try {
      const stream = await this.blobs.get(message.image.objectName);
      return { stream, size: message.image.size, filetype: message.image.filetype };
    } catch (e) {
      if (e instanceof BlobNotFoundError) {
        this.log.warn({ messageId: message.id }, 'live message has no blob');
        throw new NotFoundError('Image');
      }
      throw e;
    }
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

/** Reads at least `n` bytes (or everything, if shorter) and leaves the stream paused. */
function readHead(source: Readable, n: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
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
