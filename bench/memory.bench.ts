import { jpegBytes } from '../test/support/factories';
import { BenchUser, prepareSendImage, PreparedUpload, register, sendImage } from './glimpse-api';
import { median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { memoryOf, resetPeakRss, sampleRss } from './procs';
import { BenchStack, GLIMPSE_BUCKET, GlimpseService, PLAIN_BUCKET } from './stack';

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
    // One untimed upload first: V8 grows its young generation once, on the first large stream
    // (a step of ~30 MiB that then stays); measured, it swung this figure between 1 and 40 MiB.
    if (plan.warmup) {
      await sendImage(stack.glimpse.url, upload, image.length);
      await emptyBuckets(stack);
    }
    for (let r = 0; r < plan.memory.rounds; r++) {
      samples.push(await oneUpload(stack.glimpse, upload, image.length, plan.idleMs));
      await emptyBuckets(stack);
    }
    out[mode] = figure(image.length, samples);
    log(`memory ${image.length / MiB} MiB upload, size ${mode}: ${describe(out[mode])}`);
  }
  return out as { declared: MemoryFigure; undeclared: MemoryFigure };
}

/**
 * The same large upload (size declared) with encryption at rest on and off, each time on a
 * fresh server process so that neither inherits the other's heap: V8 and malloc keep what a
 * process once grew, so a long-lived server's "idle" depends on everything it did before.
 * Each fresh server first takes one smaller upload untimed (connections, JIT, the young
 * generation's growth), then the measured one. Modes alternate.
 */
export async function benchEncryptionMemory(
  stack: BenchStack,
  plan: Plan,
  log: (s: string) => void,
): Promise<{ encrypted: MemoryFigure; plain: MemoryFigure; /** Peak RSS, encrypted − off (medians). */ differenceMiB: number }> {
  const image = jpegBytes(plan.memory.bytes);
  const warm = jpegBytes(Math.min(image.length, 32 * MiB));
  const samples: Record<'encrypted' | 'plain', { idleMiB: number; peakMiB: number }[]> = { encrypted: [], plain: [] };
  let n = 0;
  for (let r = 0; r < plan.memory.rounds; r++) {
    for (const mode of r % 2 === 0 ? (['encrypted', 'plain'] as const) : (['plain', 'encrypted'] as const)) {
      const server = await stack.startGlimpse(
        `glimpse-memory-${mode}-${n++}`,
        mode === 'plain' ? { ENCRYPTION: 'off', S3_BUCKET: PLAIN_BUCKET } : {},
      );
      try {
        const sender = await register(server.url, 'fixed', 0);
        const receiver = await register(server.url, 'fixed', 1);
        await sendImage(server.url, prepareSendImage(sender.token, receiver.uid, warm), warm.length);
        samples[mode].push(await oneUpload(server, prepareSendImage(sender.token, receiver.uid, image), image.length, plan.idleMs));
      } finally {
        await server.stop();
        await emptyBuckets(stack);
      }
    }
  }
  const encrypted = figure(image.length, samples.encrypted);
  const plain = figure(image.length, samples.plain);
  log(`memory ${image.length / MiB} MiB upload on fresh servers: encrypted ${describe(encrypted)}; ENCRYPTION=off ${describe(plain)}`);
  // The measure is peak RSS; fresh processes make peaks comparable (growth from each one's idle is kept too).
  return { encrypted, plain, differenceMiB: encrypted.peakMiB - plain.peakMiB };
}

async function oneUpload(
  server: GlimpseService,
  upload: PreparedUpload,
  size: number,
  idleMs: number,
): Promise<{ idleMiB: number; peakMiB: number }> {
  // Let the last upload's garbage go before reading "idle".
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  const idle = memoryOf(server.pid).rss;
  const reset = resetPeakRss(server.pid);
  const sampler = sampleRss(server.pid);
  await sendImage(server.url, upload, size);
  const sampled = sampler.stop();
  const peak = Math.max(sampled, reset ? memoryOf(server.pid).hwm : 0);
  return { idleMiB: idle / MiB, peakMiB: peak / MiB };
}

function figure(bytes: number, samples: { idleMiB: number; peakMiB: number }[]): MemoryFigure {
  return {
    bytes,
    idleMiB: median(samples.map((s) => s.idleMiB)),
    peakMiB: median(samples.map((s) => s.peakMiB)),
    growthMiB: median(samples.map((s) => s.peakMiB - s.idleMiB)),
    samples,
  };
}

function describe(m: MemoryFigure): string {
  return `idle ${m.idleMiB.toFixed(1)} MiB, peak ${m.peakMiB.toFixed(1)} MiB, growth ${m.growthMiB.toFixed(1)} MiB`;
}

async function emptyBuckets(stack: BenchStack): Promise<void> {
  for (const b of [GLIMPSE_BUCKET, PLAIN_BUCKET]) await stack.emptyBucket(b);
}
