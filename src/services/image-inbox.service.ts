import type { BlobStore } from '../adapters/blob-store';
import type { Message } from '../entities/message.entity';
import type { User } from '../entities/user.entity';
import { BadInputError, NotFoundError } from '../errors';
import type { Logger } from '../logger';
import type { MessageRepository, ReceiptJobs } from '../repositories/message.repository';
import { Metrics, noMetrics } from './metrics';
import { PHONE_HASH } from './phone';
import type { PushOutbox } from './push.outbox';
import { screenshotPush } from './push.payloads';

export interface ImageInboxDeps {
  messages: Pick<
    MessageRepository,
    'findForReceiver' | 'listPending' | 'recordScreenshot' | 'endForReceiver' | 'markBlobDeleted' | 'listDownloadedBefore'
  >;
  blobs: BlobStore;
  pushes: Pick<PushOutbox, 'committed' | 'enqueue'>;
  log: Logger;
  /** Signs the deletion receipts pushed to senders; without it (unit tests) none are sent. */
  receipts?: ReceiptJobs;
  now?: () => Date;
  metrics?: Metrics;
}

export interface ImageInboxOptions {
  /** A fully downloaded, unconfirmed message is confirmed this long after its first complete download. */
  autoConfirmSeconds?: number;
}

/** The receiver's side of view-once images: one message, the pending list, screenshots, confirming. */
export class ImageInboxService {
  private readonly now: () => Date;
  private readonly metrics: Metrics;

  constructor(
    private readonly deps: ImageInboxDeps,
    private readonly options: ImageInboxOptions = {},
  ) {
    this.now = deps.now ?? (() => new Date());
    this.metrics = deps.metrics ?? noMetrics;
  }

  /** One message addressed to the viewer; everyone else is told it does not exist. */
  async get(viewer: User, messageKey: string): Promise<Message> {
    const message = PHONE_HASH.test(messageKey) ? await this.deps.messages.findForReceiver(messageKey, viewer.uid) : null;
    if (!message) throw new NotFoundError('Message');
    // An image past its lifetime is never shown as pending, even before the sweeper ends it.
    if (message.exist && message.image.expiresAt <= this.now()) message.exist = false;
    return message;
  }

  listPending(viewer: User, senderPhoneHash?: string | null): Promise<Message[]> {
    if (senderPhoneHash != null && !PHONE_HASH.test(senderPhoneHash)) {
      throw new BadInputError('senderPhoneHash must be 64 lowercase hex digits', 'senderPhoneHash');
    }
    return this.deps.messages.listPending(viewer.uid, this.now(), senderPhoneHash ?? undefined);
  }

  /** The receiver reports a screenshot: recorded (the first time) and pushed to the sender. */
  async reportScreenshot(viewer: User, messageKey: string): Promise<boolean> {
    const now = this.now();
    const message = PHONE_HASH.test(messageKey) ? await this.deps.messages.recordScreenshot(messageKey, viewer.uid, now) : null;
    if (!message) throw new NotFoundError('Message');
    if (message.screenshotAt?.getTime() === now.getTime())
      await this.deps.pushes.enqueue([{ receiverUid: message.senderUid, payload: screenshotPush(message.id) }]);
    return true;
  }

  /** The receiver has the image: the message ends and, with the last message, the blob goes. Idempotent. */
  async confirm(viewer: User, messageKey: string): Promise<Message> {
    if (!PHONE_HASH.test(messageKey)) throw new NotFoundError('Message');
    const now = this.now();
    const { message, orphanedImage } = await this.deps.messages.endForReceiver(
      messageKey,
      viewer.uid,
      'confirmed',
      now,
      this.deps.receipts,
    );
    if (!message) throw new NotFoundError('Message');
    if (orphanedImage) {
      this.deps.pushes.committed();
      try {
        await this.deps.blobs.delete(orphanedImage.objectName);
        await this.deps.messages.markBlobDeleted(orphanedImage.id, now);
        this.metrics.imageDestroyed('viewed');
      } catch (err) {
        // The message has ended and no URL serves it; the orphan collector removes the blob later.
        this.deps.log.error({ err, imageId: orphanedImage.id }, 'could not delete blob after confirm');
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
    const due = await this.deps.messages.listDownloadedBefore(
      new Date(this.now().getTime() - (this.options.autoConfirmSeconds ?? 300) * 1000),
      100,
    );
    let done = 0;
    for (const m of due) {
      try {
        await this.confirm({ uid: m.receiverUid } as User, m.messageKey);
        done++;
      } catch (err) {
        this.deps.log.warn({ err }, 'could not auto-confirm a downloaded image; will retry');
      }
    }
    return done;
  }
}
