import { jpegBytes } from '../test/support/factories';
import { BenchUser, prepareSendImage, sendImage } from './glimpse-api';
import { median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { memoryOf, resetPeakRss, sampleRss } from './procs';
import { BenchStack, GLIMPSE_BUCKET } from './stack';

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

/**
 * Peak RSS of the Glimpse process while one large upload streams through it, minus its idle
 * RSS: with a declared size (one PUT piped as the bytes arrive) and without (5 MiB parts).
 */
export async function benchMemory(
  stack: BenchStack,
  plan: Plan,
  sender: BenchUser,
  receiver: BenchUser,
  log: (s: string) => void,
): Promise<{ declared: MemoryFigure; undeclared: MemoryFigure }> {
  const image = jpegBytes(plan.memory.bytes);
  const out: Record<string, MemoryFigure> = {};
  for (const mode of ['declared', 'undeclared'] as const) {
    const upload = prepareSendImage(sender.token, receiver.uid, image, mode === 'declared');
    const samples: { idleMiB: number; peakMiB: number }[] = [];
    for (let r = 0; r < plan.memory.rounds; r++) {
      // Let the last round's garbage go before reading "idle".
      await new Promise((resolve) => setTimeout(resolve, plan.idleMs));
      const idle = memoryOf(stack.glimpse.pid).rss;
      const reset = resetPeakRss(stack.glimpse.pid);
      const sampler = sampleRss(stack.glimpse.pid);
      await sendImage(stack.glimpse.url, upload, image.length);
      const sampled = sampler.stop();
      const peak = Math.max(sampled, reset ? memoryOf(stack.glimpse.pid).hwm : 0);
      samples.push({ idleMiB: idle / MiB, peakMiB: peak / MiB });
      await stack.emptyBucket(GLIMPSE_BUCKET);
    }
    const idleMiB = median(samples.map((s) => s.idleMiB));
    const peakMiB = median(samples.map((s) => s.peakMiB));
    const growthMiB = median(samples.map((s) => s.peakMiB - s.idleMiB));
    out[mode] = { bytes: image.length, idleMiB, peakMiB, growthMiB, samples };
    log(`memory ${image.length / MiB} MiB upload, size ${mode}: idle ${idleMiB.toFixed(1)} MiB, peak ${peakMiB.toFixed(1)} MiB, growth ${growthMiB.toFixed(1)} MiB`);
  }
  return out as { declared: MemoryFigure; undeclared: MemoryFigure };
}
