import type { PushItem } from '../../src/services/push-queue';
import type { TestStack } from './stack';

/**
 * Records what the running server hands its push queue (the real queue still gets it). The
 * returned array fills as pushes are queued; `stop` puts the queue back.
 */
export function recordPushes(stack: TestStack): { items: PushItem[]; stop(): void } {
  const queue = stack.server.container.pushes;
  const original = queue.enqueue;
  const items: PushItem[] = [];
  queue.enqueue = (batch: PushItem[]) => {
    items.push(...batch);
    return original.call(queue, batch);
  };
  return { items, stop: () => void (queue.enqueue = original) };
}
