import type { BlobInfo, BlobStore } from '../adapters/blob-store';
import type { Logger } from '../logger';
import type { ImageRepository } from '../repositories/image.repository';
import type { ReceiptJobs } from '../repositories/message.repository';
import { Metrics, noMetrics } from './metrics';

export interface LifecycleOptions {
  /** A blob with no image row is deleted only when older than this (its send may still be committing). */
  orphanGraceMs: number;
  /** Images claimed per transaction. */
  batchSize: number;
  /** How long a claim keeps other instances off an image. */
  leaseMs: number;
  /** Receipt pushes for the senders of images that expire; none when absent. */
  receipts?: ReceiptJobs;
}

export interface SweepResult {
  /** Images whose blob was deleted in this sweep. */
  deleted: number;
  /** Images whose blob could not be deleted now; they are tried again once their lease runs out. */
  failed: number;
}

export interface CollectResult {
  orphansDeleted: number;
  missingClosed: number;
}

/** How long after a confirm the confirming request is left to delete the blob itself. */
const CONFIRM_HEAD_START_MS = 60_000;

/** What LifecycleService works with. */
export interface LifecycleDeps {
  images: ImageRepository;
  blobs: BlobStore;
  log: Logger;
  now?: () => Date;
  metrics?: Metrics;
}

/**
 * Nothing outlives its time: expired images are ended and their blobs deleted; blobs nobody
 * points at (a crash between storing and committing) are collected after a grace period; rows
 * whose blob is missing are closed and reported.
 */
export class LifecycleService {
  private readonly images: ImageRepository;
  private readonly blobs: BlobStore;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly metrics: Metrics;

  constructor(
    deps: LifecycleDeps,
    private readonly options: LifecycleOptions,
  ) {
    this.images = deps.images;
    this.blobs = deps.blobs;
    this.log = deps.log;
    this.now = deps.now ?? (() => new Date());
    this.metrics = deps.metrics ?? noMetrics;
  }

  /** Ends expired images and deletes every blob that is due, batch after batch until none is left. */
  async sweep(): Promise<SweepResult> {
    const result: SweepResult = { deleted: 0, failed: 0 };
    for (;;) {
      const now = this.now();
      const batch = await this.images.claimDue(
        now,
        new Date(now.getTime() - CONFIRM_HEAD_START_MS),
        this.options.batchSize,
        this.options.leaseMs,
        this.options.receipts,
      );
      for (const image of batch) {
        try {
          await this.blobs.delete(image.objectName);
          await this.images.markBlobDeleted(image.id, this.now());
          result.deleted++;
          // An image that ended before its expiry had its messages all end earlier (viewed, most likely).
          this.metrics.imageDestroyed(image.endedAt && image.endedAt < image.expiresAt ? 'ended' : 'expired');
        } catch (err) {
          result.failed++;
          this.log.warn({ err, imageId: image.id }, 'could not delete an expired image; will retry');
        }
      }
      if (batch.length < this.options.batchSize) break;
    }
    if (result.deleted || result.failed) this.log.info(result, 'expiry sweep');
    return result;
  }

  /**
   * Walks the store and the database side by side in name order (both sorted, so memory stays
   * flat however large they grow): a blob with no row is an orphan, a row with no blob is missing.
   */
  async collectOrphans(): Promise<CollectResult> {
    const started = this.now();
    const cutoff = new Date(started.getTime() - this.options.orphanGraceMs);
    const result: CollectResult = { orphansDeleted: 0, missingClosed: 0 };
    const rows = this.storedRows(cutoff);
    let row = await rows.next();

    const closeMissing = async (id: number, objectName: string) => {
      const ended = await this.images.closeMissing(id, this.now(), this.options.receipts);
      result.missingClosed++;
      this.metrics.imageDestroyed('missing');
      this.log.error({ imageId: id, objectName, messagesEnded: ended }, 'image blob is missing from the store; its messages are closed');
    };

    for await (const blob of this.blobs.list()) {
      while (!row.done && row.value.objectName < blob.name) {
        await closeMissing(row.value.id, row.value.objectName);
        row = await rows.next();
      }
      if (!row.done && row.value.objectName === blob.name) {
        row = await rows.next();
        continue;
      }
      if (await this.isOrphan(blob, cutoff)) {
        await this.blobs.delete(blob.name);
        result.orphansDeleted++;
        this.log.warn({ objectName: blob.name }, 'deleted an orphan blob');
      }
    }
    while (!row.done) {
      await closeMissing(row.value.id, row.value.objectName);
      row = await rows.next();
    }
    if (result.orphansDeleted || result.missingClosed) this.log.info(result, 'orphan collection');
    return result;
  }

  private async isOrphan(blob: BlobInfo, cutoff: Date): Promise<boolean> {
    // Recheck one by one: the row may have been committed after the page was read.
    return blob.modifiedAt < cutoff && !(await this.images.existsByObjectName(blob.name));
  }

  private async *storedRows(createdBefore: Date) {
    let after: string | null = null;
    for (;;) {
      const page = await this.images.pageStored(after, createdBefore, 500);
      yield* page;
      if (page.length < 500) return;
      after = page[page.length - 1].objectName;
    }
  }
}
