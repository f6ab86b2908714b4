import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jpegBytes } from '../test/support/factories';
import { benchDownloads } from './download.bench';
import { BenchUser, prepareSendImage, register, sendImage } from './glimpse-api';
import { benchImages } from './images.bench';
import { benchObservability } from './metrics.bench';
import { benchEncryptionMemory, benchMemory } from './memory.bench';
import { makePlan, MiB } from './plan';
import { benchRequests } from './requests.bench';
import { restoreBufferPools } from './buffer-pool';
import { benchSocial } from './social.bench';
import { benchEncryption } from './encryption.bench';
import { benchGc } from './gc.bench';
import { benchRealtime } from './realtime.bench';
import { checkGoals, renderTables, requestRatios, Results, withDownloadRatios, withUploadRatios } from './report';
import { ROOT, startBenchStack, GLIMPSE_BUCKET, PLAIN_BUCKET } from './stack';
import { benchUploads } from './upload.bench';

/**
 * `npm run bench`: starts everything on loopback, measures the upload and download paths, memory,
 * request rates, `images` latency and the social graph's two targets against their baselines,
 * prints the tables and writes them to a results file (not committed; `npm run bench:report` turns
 * it into docs/performance.md's figures). The bench's own knobs (it is a tool, not the server):
 *   BENCH_QUICK=1       the small version (under a minute)
 *   BENCH_OUT=path      where the results go (default bench/out/results.json)
 *   BENCH_ONLY=a,b      only these sections: memory, encryptionMemory, encryption, gc, upload, download, requests, images, social, metrics, realtime
 *   BENCH_REDIS_URL=url the Redis the bench's Glimpse instances use (default redis://127.0.0.1:6379)
 *   BENCH_CPU_PROF=dir  run Glimpse with --cpu-prof, profiles written to dir on exit
 */
const SECTIONS = [
  'memory',
  'encryptionMemory',
  'encryption',
  'gc',
  'upload',
  'download',
  'requests',
  'images',
  'social',
  'metrics',
  'realtime',
] as const;

async function main(): Promise<void> {
  const started = Date.now();
  const env = process.env;
  const plan = makePlan(env.BENCH_QUICK === '1');
  const only = new Set((env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim()));
  const outFile = path.resolve(env.BENCH_OUT ?? path.join(ROOT, 'bench', 'out', 'results.json'));
  const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

  const results: Results = {
    ...commitOf(),
    date: new Date().toISOString(),
    quick: plan.quick,
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadavgStart: os.loadavg(),
      loadavgEnd: [],
    },
    rounds: plan.rounds,
    seconds: 0,
    sectionSeconds: {},
    goals: [],
  };

  log(`starting s3rver, MariaDB database, Glimpse (production), bare upload handler, bare Apollo${plan.quick ? ' (BENCH_QUICK)' : ''}`);
  const stack = await startBenchStack({
    maxImageBytes: plan.memory.maxImageBytes,
    cpuProfDir: env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : undefined,
  });
  // The social section may have raised the shared MariaDB's buffer pool: put it back before exiting.
  const stop = () =>
    void restoreBufferPools()
      .catch((e) => log(`${e?.message ?? e}`))
      .finally(() => stack.stop().finally(() => process.exit(130)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const receiver = await register(stack.glimpse.url, 'fixed', 0);
    const viewer = await register(stack.glimpse.url, 'fixed', 1);
    const senders: BenchUser[] = [];
    for (let i = 0; i < Math.max(...plan.upload.clients); i++) senders.push(await register(stack.glimpse.url, 'fixed', 100 + i));
    // The same people on the ENCRYPTION=off server (a database of its own).
    const plain = { receiver: await register(stack.glimpsePlain.url, 'fixed', 0), senders: [] as BenchUser[] };
    for (let i = 0; i < senders.length; i++) plain.senders.push(await register(stack.glimpsePlain.url, 'fixed', 100 + i));

    // Warm the server's code paths and connections before anything is measured.
    const warm = prepareSendImage(senders[0].token, receiver.uid, jpegBytes(MiB));
    const warmPlain = prepareSendImage(plain.senders[0].token, plain.receiver.uid, jpegBytes(MiB));
    for (let i = 0; i < 5; i++) {
      await sendImage(stack.glimpse.url, warm, MiB);
      await sendImage(stack.glimpsePlain.url, warmPlain, MiB);
    }
    await stack.emptyBucket(GLIMPSE_BUCKET);
    await stack.emptyBucket(PLAIN_BUCKET);

    results.sectionSeconds.setup = (Date.now() - started) / 1000;
    const section = async (name: (typeof SECTIONS)[number], run: () => Promise<void>) => {
      if (!only.has(name)) return;
      const t = Date.now();
      await run();
      results.sectionSeconds[name] = (Date.now() - t) / 1000;
    };
    await section('memory', async () => {
      results.memory = await benchMemory(stack, plan, senders[0], receiver, log);
    });
    await section('encryptionMemory', async () => {
      results.encryptionMemory = await benchEncryptionMemory(stack, plan, log);
    });
    await section('encryption', async () => {
      results.encryption = await benchEncryption(stack, plan, log);
    });
    await section('gc', async () => {
      results.gc = await benchGc(stack, plan, log);
    });
    await section('upload', async () => {
      results.upload = (await benchUploads(stack, plan, senders, receiver, plain, log)).map(withUploadRatios);
    });
    await section('download', async () => {
      results.download = (await benchDownloads(stack, plan, senders[0], receiver, plain, log)).map(withDownloadRatios);
    });
    await section('requests', async () => {
      const r = await benchRequests(stack, plan, viewer, log);
      results.requests = { ...r, ratios: requestRatios(r) };
    });
    await section('images', async () => {
      const r = await benchImages(stack, plan, viewer, log);
      results.images = { ...r, ratio: r.large.p50 / r.small.p50 };
    });
    await section('social', async () => {
      results.social = await benchSocial(stack, plan, log);
    });
    await section('metrics', async () => {
      results.metrics = await benchObservability(stack, plan, log);
    });
    await section('realtime', async () => {
      results.realtime = await benchRealtime(stack, plan, log);
    });
  } catch (e) {
    // What the servers said is usually the why.
    for (const svc of [stack.glimpse, stack.glimpsePlain, stack.bareUpload, stack.bareApollo]) {
      if (svc.stderr().trim()) log(`${svc.name} stderr (last lines):\n${svc.stderr().split('\n').slice(-30).join('\n')}`);
    }
    throw e;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await stack.stop();
  }

  results.machine.loadavgEnd = os.loadavg();
  results.seconds = (Date.now() - started) / 1000;
  results.goals = checkGoals(results);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${renderTables(results)}\n`);
  log(`wrote ${path.relative(process.cwd(), outFile) || outFile}`);
}

function commitOf(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' });
    // Documentation changing does not make the measured code dirty.
    const dirty = status.split('\n').some((l) => l.trim() && !/\.md$/.test(l));
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${e?.stack ?? e}\n`);
    process.exit(1);
  },
);
