import type { Image } from '../entities/image.entity';
import type { Message, MessageEndReason } from '../entities/message.entity';
import type { NewPushJob } from './push-job.repository';

export interface NewImage {
  objectName: string;
  filetype: string;
  size: number;
  sha256: string;
  /** How the blob is sealed, its wrapped key and which master key wrapped it; null for a blob stored as sent. */
  cipher: string | null;
  wrappedKey: string | null;
  keyId?: string | null;
  expiresAt: Date;
  createdAt: Date;
  /** True when no blob was stored (every message is born ended): the image is over at once. */
  discarded?: boolean;
}

export interface NewMessage {
  messageKey: string;
  senderUid: number;
  receiverUid: number;
  sendTime: Date;
  /** The group it was sent to; absent for a one-to-one send. */
  groupId?: number | null;
  /**
   * Set for a send to someone who blocked the sender: the row is born ended, so the receiver
   * never sees it, and it only backs the sender's normal-looking answer.
   */
  endReason?: 'blocked';
}

/** A message whose image's key was just destroyed: its sender gets a receipt. */
export interface DestroyedMessage {
  id: number;
  senderUid: number;
  endReason: MessageEndReason;
  destroyedAt: Date;
}

/** Builds the receipt pushes for the messages of an image whose key is destroyed, in the same transaction. */
export type ReceiptJobs = (destroyed: DestroyedMessage[]) => NewPushJob[];

export interface EndResult {
  /** The message as it stands after the call; null when the viewer has no such message. */
  message: Message | null;
  /** The image whose last live message just ended: its blob can now be deleted. */
  orphanedImage: Image | null;
}

/** A download grant as a listing reuses it. */
export interface GrantRef {
  id: number;
  createdAt: Date;
}

/** What a download needs of a message and its image. */
export interface DownloadTarget {
  messageId: number;
  /** False when the message ended after the bytes were counted. */
  exist: boolean;
  image: Pick<Image, 'objectName' | 'filetype' | 'size' | 'cipher' | 'wrappedKey' | 'keyId'>;
}

/** Messages and the images they point at. Every returned Message has `sender` and `image` loaded. */
export interface MessageRepository {
  /**
   * Writes the image, its messages and their push jobs in one transaction: a message is never
   * stored without its push, nor a push without its message. `pushFor` builds each job from its
   * message once the message has its id, or null for a message nobody is told of (born ended).
   */
  createImageWithMessages(image: NewImage, messages: NewMessage[], pushFor: (message: Message) => NewPushJob | null): Promise<Message[]>;
  findForReceiver(messageKey: string, receiverUid: number): Promise<Message | null>;
  findByKey(messageKey: string): Promise<Message | null>;
  /** Live, unexpired messages to the receiver, oldest first, optionally from one sender; none from users the receiver blocked. */
  listPending(receiverUid: number, now: Date, senderPhoneHash?: string): Promise<Message[]>;
  /** Ends the receiver's message (idempotent) in one transaction. */
  endForReceiver(messageKey: string, receiverUid: number, reason: MessageEndReason, now: Date, receipts?: ReceiptJobs): Promise<EndResult>;
  /** Records the receiver's screenshot report (the first one counts); null when the viewer has no such message. */
  recordScreenshot(messageKey: string, receiverUid: number, now: Date): Promise<Message | null>;
  /** Every message the sender sent (born-ended ones to blockers included, as the sender sees them), newest first, with `receiver` and `image` loaded. */
  listSent(senderUid: number, limit: number): Promise<Message[]>;
  markBlobDeleted(imageId: number, now: Date): Promise<void>;
  /** For each message, its newest grant made after `createdAfter` that is not used up and served nothing yet. */
  findUnusedGrants(messageIds: number[], createdAfter: Date): Promise<Map<number, GrantRef>>;
  /** A new one-time download grant for each message; answers each message's grant id. */
  createGrants(messageIds: number[], now: Date): Promise<Map<number, number>>;
  /** The grant's message id and whether it is used up; null when there is no such grant. */
  findGrant(grantId: number): Promise<{ messageId: number; completed: boolean; servedBytes: number } | null>;
  /**
   * Counts `bytes` against the grant before a response serves them: false (nothing counted) when
   * the grant is used up, is not the message's, or would pass `budget` bytes in all.
   */
  reserveGrantBytes(grantId: number, messageId: number, bytes: number, budget: number): Promise<boolean>;
  /**
   * For a download of the whole image, in one step: counts the image's size against the grant
   * and answers the message found by `messageKey`, when the grant is that message's and not used
   * up, the message is live, its image unexpired at `now`, and the grant would then have served
   * at most the image plus `slack` bytes, and at most `maxBudget`. Null (nothing counted) otherwise.
   */
  reserveWholeImage(grantId: number, messageKey: string, now: Date, slack: number, maxBudget: number): Promise<DownloadTarget | null>;
  /** Gives back bytes a response reserved and did not send (the client went away). */
  releaseGrantBytes(grantId: number, bytes: number): Promise<void>;
  /**
   * The grant served a complete download: it is used up, and the message counts as downloaded
   * from now (the first time). False when the grant was used up already (by a download that
   * finished first) or is not the message's, so that only one download per grant ever completes.
   */
  completeGrant(grantId: number, messageId: number, now: Date): Promise<boolean>;
  /** Deletes up to `limit` grants made before `before` (whatever their state); answers how many went. */
  deleteGrantsCreatedBefore(before: Date, limit: number): Promise<number>;
  /**
   * Deletes up to `limit` messages that ended before `before` (their grants with them); answers
   * how many went. Instances pruning at once each take rows the others have not.
   */
  deleteEndedBefore(before: Date, limit: number): Promise<number>;
  /** Deletes up to `limit` images that ended before `before`, whose blob is gone and that no message points at. */
  deleteImagesEndedBefore(before: Date, limit: number): Promise<number>;
  /** Live messages fully downloaded before `before` and not confirmed, oldest first. */
  listDownloadedBefore(before: Date, limit: number): Promise<{ messageKey: string; receiverUid: number }[]>;
}
