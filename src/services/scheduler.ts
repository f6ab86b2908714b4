import type { Logger } from '../logger';

interface Task {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
  timer?: NodeJS.Timeout;
  running?: Promise<unknown>;
}

/**
 * Runs background tasks on every instance at a jittered interval, one run of a task at a time,
 * and on stop waits for the runs in progress (graceful shutdown).
 */
export class Scheduler {
  private readonly tasks: Task[] = [];
  private stopped = false;

  constructor(private readonly log: Logger) {}

  every(name: string, intervalMs: number, run: () => Promise<unknown>): this {
    this.tasks.push({ name, intervalMs, run });
    return this;
  }

  start(): void {
    for (const t of this.tasks) this.plan(t, t.intervalMs * Math.random());
  }

  private plan(task: Task, delayMs: number): void {
    if (this.stopped) return;
    task.timer = setTimeout(() => {
      task.running = task
        .run()
        .catch((err) => this.log.error({ err, task: task.name }, 'background task failed'))
        .finally(() => {
          task.running = undefined;
          // Instances started together drift apart instead of sweeping in lockstep.
          this.plan(task, task.intervalMs * (0.8 + 0.4 * Math.random()));
        });
    }, delayMs);
    task.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.tasks) clearTimeout(t.timer);
    await Promise.all(this.tasks.map((t) => t.running));
  }
}
