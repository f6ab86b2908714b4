import fs from 'node:fs';
import { jpegBytes } from '../test/support/factories';
import { downloadUrlOf, prepareSendImage, register, sendImage } from './glimpse-api';
import { getCounting, median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { BenchStack, GLIMPSE_BUCKET } from './stack';

/** One fresh Glimpse process's measured stretch. */
export interface GcSample {
  /** Full (mark-compact) collections during the measured cycles. */
  fullCollections: number;
  /** CPU of the whole process (every thread) per cycle, ms. */
  cpuMs: number;
  /** Wall time per cycle as the client saw it, ms. */
  wallMs: number;
}

export interface GcVariant {
  /** Node flags the processes were started with. */
  nodeArgs: string[];
  samples: GcSample[];
  /** Medians over the processes. */
  fullCollectionsPer100: number;
  cpuMs: number;
  wallMs: number;
}

export interface GcResults {
  /** One cycle: a 1 MiB sendImage, then two downloads of it (a URL each). */
  cycles: number;
  warmupCycles: number;
  tuned: GcVariant;
  v8Default: GcVariant;
  /** CPU per cycle, tuned ÷ V8's default (median of the processes' figures). */
  cpuRatio: number;
}

/**
 * What main.ts's heap tuning (`--heap-growing-percent=100`, set at start) buys: fresh processes
 * alike but for V8's default growth (`--heap-growing-percent=0` on the command line, which main.ts
 * leaves alone), alternating, each warmed up and then measured over the same cycles. With the
 * default, V8 can settle on a limit so close to the live heap that the Buffers a request
 * allocates start a full collection every few requests; whether a process does is down to the
 * moment V8 first set its limit, so it takes several processes of each to see it.
 */
export async function benchGc(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<GcResults> {
  const variants = { tuned: [] as string[], v8Default: ['--heap-growing-percent=0'] };
  const samples: Record<keyof typeof variants, GcSample[]> = { tuned: [], v8Default: [] };
  const image = jpegBytes(MiB);
  const { processes, cycles, warmupCycles } = plan.gc;
  for (let p = 0; p < processes; p++) {
    const order = p % 2 === 0 ? (['tuned', 'v8Default'] as const) : (['v8Default', 'tuned'] as const);
    for (const name of order) {
      const svc = await stack.startGlimpse(`glimpse-gc-${name}-${p}`, {}, ['--trace-gc', ...variants[name]]);
      try {
        let counting = false;
        let full = 0;
        svc.proc.stdout!.on('data', (c: Buffer) => {
          if (counting) full += c.toString('latin1').split('Mark-Compact').length - 1;
        });
        const sender = await register(svc.url, 'fixed', 100);
        const receiver = await register(svc.url, 'fixed', 0);
        const upload = prepareSendImage(sender.token, receiver.uid, image);
        const cycle = async () => {
          const key = await sendImage(svc.url, upload, image.length);
          for (let d = 0; d < 2; d++) await getCounting(await downloadUrlOf(svc.url, receiver.token, key), image.length);
        };
        for (let i = 0; i < warmupCycles; i++) await cycle();
        await stack.emptyBucket(GLIMPSE_BUCKET);
        counting = true;
        const cpu0 = cpuMsOf(svc.pid);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < cycles; i++) await cycle();
        const wall = Number(process.hrtime.bigint() - t0) / 1e6;
        const cpu = cpuMsOf(svc.pid) - cpu0;
        counting = false;
        samples[name].push({ fullCollections: full, cpuMs: cpu / cycles, wallMs: wall / cycles });
        await stack.emptyBucket(GLIMPSE_BUCKET);
      } finally {
        await svc.stop();
      }
    }
  }
  const variant = (name: keyof typeof variants): GcVariant => {
    const s = samples[name];
    return {
      nodeArgs: variants[name],
      samples: s,
      fullCollectionsPer100: median(s.map((x) => (100 * x.fullCollections) / cycles)),
      cpuMs: median(s.map((x) => x.cpuMs)),
      wallMs: median(s.map((x) => x.wallMs)),
    };
  };
  const tuned = variant('tuned');
  const v8Default = variant('v8Default');
  const out: GcResults = { cycles, warmupCycles, tuned, v8Default, cpuRatio: tuned.cpuMs / v8Default.cpuMs };
  const list = (v: GcVariant) => v.samples.map((s) => s.fullCollections).join(', ');
  log(
    `gc: full collections per process over ${cycles} cycles, tuned ${list(tuned)}, V8 default ${list(v8Default)}; ` +
      `CPU per cycle ${tuned.cpuMs.toFixed(1)} against ${v8Default.cpuMs.toFixed(1)} ms (${out.cpuRatio.toFixed(2)})`,
  );
  return out;
}

/** utime + stime of every thread of a process, ms (USER_HZ is 100 on Linux). */
function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
