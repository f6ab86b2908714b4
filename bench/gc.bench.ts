import fs from 'node:fs';
import { jpegBytes } from '../test/support/factories';
import { BenchUser, downloadUrlOf, prepareSendImage, PreparedUpload, register, sendImage } from './glimpse-api';
import { getCounting, median } from './http';
import type { Plan } from './plan';
import { MiB } from './plan';
import { BenchStack, GLIMPSE_BUCKET, GlimpseService } from './stack';

/** One fresh Glimpse process's measured rounds. */
export interface GcSample {
  /** Full (mark-compact) collections during the measured rounds. */
  fullCollections: number;
  /** CPU of the whole process (every thread) per image (one send, its downloads), ms. */
  cpuMs: number;
  /** The client's wall time per image, ms. */
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
  /** Images (1 MiB) each process takes per round, and downloads of each. */
  imagesPerRound: number;
  downloadsPerImage: number;
  warmupRounds: number;
  rounds: number;
  tuned: GcVariant;
  v8Default: GcVariant;
  /** CPU per image, tuned ÷ V8's default (medians over the processes). */
  cpuRatio: number;
}

type Name = 'tuned' | 'v8Default';

interface Instance {
  svc: GlimpseService;
  receiver: BenchUser;
  upload: PreparedUpload;
  /** Counts Mark-Compact lines of --trace-gc while true. */
  counting: boolean;
  full: number;
}

/**
 * What main.ts's heap tuning (`--heap-growing-percent=100`, set at start) buys: pairs of fresh
 * processes alike but for V8's default growth (`--heap-growing-percent=0` on the command line,
 * which main.ts leaves alone), worked in turn as the encryption section works its pairs: a round
 * sends images through both, one by one in alternation, mints their URLs, downloads each twice,
 * alternating, and empties the bucket. With the default, V8 can settle on a limit so close to the
 * live heap that the Buffers a request allocates start a full collection every few requests;
 * whether a process does is down to the moment V8 set its limit, so it takes several processes.
 */
export async function benchGc(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<GcResults> {
  const variants: Record<Name, string[]> = { tuned: [], v8Default: ['--heap-growing-percent=0'] };
  const samples: Record<Name, GcSample[]> = { tuned: [], v8Default: [] };
  const image = jpegBytes(MiB);
  const { pairs, imagesPerRound, downloadsPerImage, warmupRounds, rounds } = plan.gc;
  for (let p = 0; p < pairs; p++) {
    const order: Name[] = p % 2 === 0 ? ['tuned', 'v8Default'] : ['v8Default', 'tuned'];
    const started: Partial<Record<Name, Instance>> = {};
    try {
      for (const name of order) started[name] = await startInstance(stack, `glimpse-gc-${name}-${p}`, variants[name], image);
      const both = started as Record<Name, Instance>;
      const cpu0: Record<Name, number> = { tuned: 0, v8Default: 0 };
      const wall: Record<Name, number> = { tuned: 0, v8Default: 0 };
      for (let r = 0; r < warmupRounds + rounds; r++) {
        const timed = r >= warmupRounds;
        if (r === warmupRounds) {
          for (const name of order) {
            both[name].counting = true;
            cpu0[name] = cpuMsOf(both[name].svc.pid);
          }
        }
        const spent = await round(stack, both, imagesPerRound, downloadsPerImage, r);
        if (timed) for (const name of order) wall[name] += spent[name];
      }
      for (const name of order) {
        const n = rounds * imagesPerRound;
        samples[name].push({
          fullCollections: both[name].full,
          cpuMs: (cpuMsOf(both[name].svc.pid) - cpu0[name]) / n,
          wallMs: wall[name] / n,
        });
      }
    } finally {
      for (const name of order) await started[name]?.svc.stop();
    }
  }
  const images = rounds * imagesPerRound;
  const variant = (name: Name): GcVariant => ({
    nodeArgs: variants[name],
    samples: samples[name],
    fullCollectionsPer100: median(samples[name].map((x) => (100 * x.fullCollections) / images)),
    cpuMs: median(samples[name].map((x) => x.cpuMs)),
    wallMs: median(samples[name].map((x) => x.wallMs)),
  });
  const tuned = variant('tuned');
  const v8Default = variant('v8Default');
  const out: GcResults = {
    imagesPerRound,
    downloadsPerImage,
    warmupRounds,
    rounds,
    tuned,
    v8Default,
    cpuRatio: tuned.cpuMs / v8Default.cpuMs,
  };
  const list = (v: GcVariant) => v.samples.map((s) => s.fullCollections).join(', ');
  log(
    `gc: full collections per process over ${images} images, tuned ${list(tuned)}, V8 default ${list(v8Default)}; ` +
      `CPU per image ${tuned.cpuMs.toFixed(1)} against ${v8Default.cpuMs.toFixed(1)} ms (${out.cpuRatio.toFixed(2)})`,
  );
  return out;
}

async function startInstance(stack: BenchStack, name: string, nodeArgs: string[], image: Buffer): Promise<Instance> {
  const svc = await stack.startGlimpse(name, {}, ['--trace-gc', ...nodeArgs]);
  const sender = await register(svc.url, 'fixed', 100);
  const receiver = await register(svc.url, 'fixed', 0);
  const instance: Instance = { svc, receiver, upload: prepareSendImage(sender.token, receiver.uid, image), counting: false, full: 0 };
  svc.proc.stdout!.on('data', (c: Buffer) => {
    if (instance.counting) instance.full += c.toString('latin1').split('Mark-Compact').length - 1;
  });
  return instance;
}

/** One round on both instances; returns each one's client-side time (sends and downloads), ms. */
async function round(
  stack: BenchStack,
  both: Record<Name, Instance>,
  images: number,
  downloads: number,
  index: number,
): Promise<Record<Name, number>> {
  const spent: Record<Name, number> = { tuned: 0, v8Default: 0 };
  const keys: Record<Name, string[]> = { tuned: [], v8Default: [] };
  const turn = (i: number): Name[] => ((i + index) % 2 === 0 ? ['tuned', 'v8Default'] : ['v8Default', 'tuned']);
  for (let i = 0; i < images; i++) {
    for (const name of turn(i)) {
      const t = process.hrtime.bigint();
      keys[name].push(await sendImage(both[name].svc.url, both[name].upload, MiB));
      spent[name] += Number(process.hrtime.bigint() - t) / 1e6;
    }
  }
  const urls: Record<Name, string[]> = { tuned: [], v8Default: [] };
  for (const name of ['tuned', 'v8Default'] as const) {
    for (const key of keys[name])
      for (let d = 0; d < downloads; d++) urls[name].push(await downloadUrlOf(both[name].svc.url, both[name].receiver.token, key));
  }
  for (let i = 0; i < images * downloads; i++) {
    for (const name of turn(i)) {
      const t = process.hrtime.bigint();
      await getCounting(urls[name][i], MiB);
      spent[name] += Number(process.hrtime.bigint() - t) / 1e6;
    }
  }
  await stack.emptyBucket(GLIMPSE_BUCKET);
  return spent;
}

/** utime + stime of every thread of a process, ms (USER_HZ is 100 on Linux). */
function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
