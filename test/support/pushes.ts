import { MoreThan } from 'typeorm';
import { PushJob } from '../../src/entities/push-job.entity';
import type { PushItem } from '../../src/services/push-queue';
import type { TestStack } from './stack';

/**
 * Watches the server's push outbox from now on: `items()` answers every push queued since, in
 * order, as the app would receive its payload. `stop` is kept for symmetry; nothing is patched.
 */
export async function recordPushes(stack: TestStack): Promise<{ items(): Promise<PushItem[]>; stop(): void }> {
  const jobs = stack.server.container.db.getRepository(PushJob);
  const last = await jobs.find({ order: { id: 'DESC' }, take: 1 });
  const after = last[0]?.id ?? 0;
  return {
    items: async () =>
      (await jobs.find({ where: { id: MoreThan(after) }, order: { id: 'ASC' } })).map((j) => ({
        receiverUid: j.receiverUid,
        payload: JSON.parse(j.payload),
      })),
    stop: () => undefined,
  };
}
