import type { Image } from '../entities/image.entity';
import type { ReceiptJobs } from './message.repository';

/** Stored images as the lifecycle sees them: what is due for deletion, what should be in the store. */
export interface ImageRepository {
  /**
   * Claims, for `leaseMs`, up to `limit` images whose blob is due to go — expired, or whose last
   * message ended before `endedBefore` with the blob still there — and ends their remaining live
   * messages as expired, in one short transaction. Another instance claims other images.
   */
  claimDue(now: Date, endedBefore: Date, limit: number, leaseMs: number, receipts?: ReceiptJobs): Promise<Image[]>;
  markBlobDeleted(imageId: number, now: Date): Promise<void>;
  /** Images whose blob should be in the store, created before `createdBefore`, by object name after `after`. */
  pageStored(after: string | null, createdBefore: Date, limit: number): Promise<Pick<Image, 'id' | 'objectName'>[]>;
  /** True when any image row, ended or not, names this blob. */
  existsByObjectName(objectName: string): Promise<boolean>;
  /** The blob is gone: end the image's live messages (reason `missing`) and record it; returns how many ended. */
  closeMissing(imageId: number, now: Date, receipts?: ReceiptJobs): Promise<number>;
  /** A key id of a live wrapped key that is none of `known`, or null when there is none. */
  findKeyIdOutside(known: string[]): Promise<string | null>;
  /** Live wrapped keys not under master key `keyId` (or of unknown key), by id after `afterId`. */
  pageWrappedKeys(notUnder: string, afterId: number, limit: number): Promise<WrappedImageKey[]>;
  /**
   * Stores each new wrap only where the row still holds the old one (a key destroyed or already
   * re-wrapped meanwhile is left alone), in one transaction; returns how many rows changed.
   */
  replaceWrappedKeys(changes: { from: WrappedImageKey; wrappedKey: string; keyId: string }[]): Promise<number>;
  /** How many live wrapped keys are not under master key `keyId`. */
  countWrappedNotUnder(keyId: string): Promise<number>;
}

/** An image's wrapped key and the master key that wrapped it (null: an earlier version's row). */
export interface WrappedImageKey {
  id: number;
  objectName: string;
  wrappedKey: string;
  keyId: string | null;
}
