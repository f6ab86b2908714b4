import type { Logger } from '../logger';
import type { MessageRepository } from '../repositories/message.repository';
import type { PushJobRepository } from '../repositories/push-job.repository';
import type { VerificationCodeRepository } from '../repositories/verification-code.repository';
import { EXPIRED_CODE_KEPT_MS } from './verification.service';

export interface RetentionOptions {
  /** How long a downloadUrl's token is valid (DOWNLOAD_URL_TTL_SECONDS), in ms. */
  downloadUrlTtlMs: number;
  /** Finished push jobs are kept this long after their outcome (PUSH_JOB_RETENTION_DAYS), in ms. */
  pushJobRetentionMs: number;
  /** Ended messages are kept this long after they ended (MESSAGE_RETENTION_DAYS), in ms. */
  messageRetentionMs: number;
  /** Rows per delete statement. */
  batchSize: number;
}

export interface PruneResult {
  downloadGrants: number;
  pushJobs: number;
  verificationCodes: number;
  messages: number;
  images: number;
}

/**
 * A grant outlives its URL's token by this much. A download that started just before the token
 * expired still marks its grant used when the last byte goes; were the grant gone by then, the
 * client would lose its last chunk. An hour also covers clocks that differ between instances.
 */
export const GRANT_MARGIN_MS = 3_600_000;

/**
 * Deletes rows that have served their purpose, so that tables written on every request stay
 * the size of their useful window: download grants whose URL can no longer be used, finished
 * push jobs past their retention (pending and in-flight jobs are never touched), verification
 * codes a while after they expired, and messages (who sent what to whom, when) with their images'
 * rows MESSAGE_RETENTION_DAYS after they ended. Every table is pruned in bounded batches.
 */
export class RetentionService {
  constructor(
    private readonly messages: Pick<MessageRepository, 'deleteGrantsCreatedBefore' | 'deleteEndedBefore' | 'deleteImagesEndedBefore'>,
    private readonly pushJobs: Pick<PushJobRepository, 'deleteFinishedBefore'>,
    private readonly codes: Pick<VerificationCodeRepository, 'deleteExpired'>,
    private readonly options: RetentionOptions,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async prune(): Promise<PruneResult> {
    const now = this.now().getTime();
    const result: PruneResult = {
      downloadGrants: await this.drain((limit) =>
        this.messages.deleteGrantsCreatedBefore(new Date(now - this.options.downloadUrlTtlMs - GRANT_MARGIN_MS), limit),
      ),
      pushJobs: await this.drain((limit) => this.pushJobs.deleteFinishedBefore(new Date(now - this.options.pushJobRetentionMs), limit)),
      verificationCodes: await this.drain((limit) => this.codes.deleteExpired(new Date(now - EXPIRED_CODE_KEPT_MS), limit)),
      // Messages first: an image's row goes once no message points at it.
      messages: await this.drain((limit) => this.messages.deleteEndedBefore(new Date(now - this.options.messageRetentionMs), limit)),
      images: await this.drain((limit) => this.messages.deleteImagesEndedBefore(new Date(now - this.options.messageRetentionMs), limit)),
    };
    if (Object.values(result).some((n) => n > 0)) this.log.info(result, 'retention prune');
    return result;
  }

  /** Batch after batch until one comes back short (another instance may be pruning alongside). */
  private async drain(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await deleteBatch(this.options.batchSize);
      total += n;
      if (n < this.options.batchSize) return total;
    }
  }
}
