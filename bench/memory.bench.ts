import { jpegBytes } from '../test/support/factories';
import { BenchUser, prepareSendImage, sendImage } from './glimpse-api';
import { median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { memoryOf, resetPeakRss, sampleRss } from './procs';
import { BenchStack, GLIMPSE_BUCKET, PLAIN_BUCKET } from './stack';

export interface MemoryFigure {
  bytes: number;
  /** RSS of the idle server just before the upload, MiB (median over rounds). */
  idleMiB: number;
  /** Highest RSS while the upload streamed (VmHWM after a reset, and 5 ms samples), MiB. */
  peakMiB: number;
  /** peak − idle, MiB: what one upload of this size costs in memory. */
  growthMiB: number;
  samples: { idleMiB: number; peakMiB: number }[];
}

export type MemoryMode = 'declared' | 'undeclared' | 'declaredPlain';

/**
 * Peak RSS of the Glimpse process while one large upload streams through it, minus its idle
 * RSS: with a declared size (one PUT piped as the bytes arrive) and without (5 MiB parts); and
 * with a declared size on the build with encryption at rest off (`declaredPlain`).
 */
export async function benchMemory(
  stack: BenchStack,
  plan: Plan,
  sender: BenchUser,
  receiver: BenchUser,
  plain: { sender: BenchUser; receiver: BenchUser },
  log: (s: string) => void,
): Promise<Record<MemoryMode, MemoryFigure>> {
  const image = jpegBytes(plan.memory.bytes);
  const out: Record<string, MemoryFigure> = {};
  for (const mode of ['declared', 'undeclared', 'declaredPlain'] as const) {
    const server = mode === 'declaredPlain' ? stack.glimpsePlain : stack.glimpse;
    const users = mode === 'declaredPlain' ? plain : { sender, receiver };
    const upload = prepareSendImage(users.sender.token, users.receiver.uid, image, mode !== 'undeclared');
    const samples: { idleMiB: number; peakMiB: number }[] = [];
    // One untimed upload first: V8 grows its young generation on the first large stream (a
    // one-off step of ~30 MiB), which would otherwise land in whichever round comes first.
    if (plan.warmup) {
      await sendImage(server.url, upload, image.length);
      await emptyBuckets(stack);
    }
    for (let r = 0; r < plan.memory.rounds; r++) {
      // Let the last round's garbage go before reading "idle".
      await new Promise((resolve) => setTimeout(resolve, plan.idleMs));
      const idle = memoryOf(server.pid).rss;
      const reset = resetPeakRss(server.pid);
      const sampler = sampleRss(server.pid);
      await sendImage(server.url, upload, image.length);
      const sampled = sampler.stop();
      const peak = Math.max(sampled, reset ? memoryOf(server.pid).hwm : 0);
      samples.push({ idleMiB: idle / MiB, peakMiB: peak / MiB });
      await emptyBuckets(stack);
    }
    const idleMiB = median(samples.map((s) => s.idleMiB));
    const peakMiB = median(samples.map((s) => s.peakMiB));
    const growthMiB = median(samples.map((s) => s.peakMiB - s.idleMiB));
    out[mode] = { bytes: image.length, idleMiB, peakMiB, growthMiB, samples };
    log(`memory ${image.length / MiB} MiB upload, size ${mode}: idle ${idleMiB.toFixed(1)} MiB, peak ${peakMiB.toFixed(1)} MiB, growth ${growthMiB.toFixed(1)} MiB`);
  }
  return out as Record<MemoryMode, MemoryFigure>;
}

async function emptyBuckets(stack: BenchStack): Promise<void> {
  for (const b of [GLIMPSE_BUCKET, PLAIN_BUCKET]) await stack.emptyBucket(b);
}
