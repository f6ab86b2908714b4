import type { Logger } from '../logger';
import type { PushItem, PushQueue } from '../services/push-queue';

/**
 * Writes each push to the log instead of delivering it: the development default, until the
 * social pushes share the transactional outbox the image pushes go through.
 */
export class LogPushQueue implements PushQueue {
  constructor(private readonly log: Logger) {}

  async enqueue(items: PushItem[]): Promise<void> {
    for (const item of items) this.log.info({ push: item }, 'push queued (log only)');
  }
}
