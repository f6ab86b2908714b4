import type { EnvReader } from './env-reader';

const MiB = 1024 * 1024;

/** How big images may be, how long they and their traces live, and the tasks that end them. */
export interface ImagesSection {
  maxImageBytes: number;
  imageTtlSeconds: number;
  downloadUrlTtlSeconds: number;
  /** A fully downloaded, unconfirmed message is confirmed this long after its first complete download. */
  autoConfirmSeconds: number;
  /** Ended messages' rows (who sent what to whom, when) are deleted this many days after they ended. */
  messageRetentionDays: number;
  /** How often each instance ends expired images and deletes their blobs. */
  sweepIntervalSeconds: number;
  /** How often each instance looks for blobs with no row and rows with no blob. */
  orphanGcIntervalSeconds: number;
  /** A blob with no row is deleted only when older than this. */
  orphanGraceSeconds: number;
  /** Background tasks (sweeper, orphan collector, retention prune) run in this process. */
  backgroundJobs: boolean;
}

/** MAX_IMAGE_BYTES, the lifetimes (IMAGE_TTL_SECONDS, DOWNLOAD_URL_TTL_SECONDS, AUTO_CONFIRM_SECONDS, MESSAGE_RETENTION_DAYS) and the background tasks. */
export function imagesConfig(r: EnvReader): ImagesSection {
  return {
    maxImageBytes: r.int('MAX_IMAGE_BYTES', 20 * MiB, 1, 2 ** 31 - 1),
    imageTtlSeconds: r.int('IMAGE_TTL_SECONDS', 7 * 24 * 3600, 60),
    downloadUrlTtlSeconds: r.int('DOWNLOAD_URL_TTL_SECONDS', 300, 10, 3600),
    autoConfirmSeconds: r.int('AUTO_CONFIRM_SECONDS', 300, 1, 7 * 86_400),
    messageRetentionDays: r.int('MESSAGE_RETENTION_DAYS', 30, 1, 3650),
    sweepIntervalSeconds: r.int('SWEEP_INTERVAL_SECONDS', 60, 1, 86_400),
    orphanGcIntervalSeconds: r.int('ORPHAN_GC_INTERVAL_SECONDS', 3600, 1, 7 * 86_400),
    orphanGraceSeconds: r.int('ORPHAN_GRACE_SECONDS', 3600, 0, 7 * 86_400),
    backgroundJobs: r.bool('BACKGROUND_JOBS', true),
  };
}
