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
}
