/**
 * Encryption at rest against the same build with it off (ENCRYPTION=off exists only for this):
 *
 * 1. sendImage of 1 MiB and 10 MiB (declared size: one streamed PUT), ms per send;
 * 2. a complete download of the same images through a fresh downloadUrl, ms per download;
 * 3. peak RSS of a server process during one 200 MiB upload (streamed from a generator), each
 *    mode in a child process of its own so that one measurement cannot raise the other's peak.
 *
 * Both servers run side by side on MariaDB + s3rver on loopback, in this one process, with
 * prebuilt request bodies; rounds alternate between them so the machine's load falls on both
 * alike. Throughput ratios are on/off of sends (or downloads) per second, i.e. off_ms / on_ms.
 * Writes its figures under "encryption" in bench/results.json.
 * Usage: npm run bench [-- --rounds 15]
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ApiClient, multipartBody } from '../test/support/client';
import { jpegBytes, registerUser, TestUser } from '../test/support/factories';
import { startStack, TestStack } from '../test/support/stack';
import { round, stats, timedPost, Timing } from './timing';

const MiB = 1024 * 1024;
const argRounds = process.argv.indexOf('--rounds');
const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 15;




function download(url: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    http
      .get(url, (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => (got += c.length));
        res.on('end', () => (got === size ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`short download ${got}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

interface Side {
  name: 'on' | 'off';
  stack: TestStack;
  api: ApiClient;
  sender: TestUser;
  receiver: TestUser;
}

async function side(name: 'on' | 'off', env: Record<string, string>): Promise<Side> {
  const stack = await startStack('mysql-s3', { ...env, ...(name === 'off' ? { ENCRYPTION: 'off' } : {}) });
  const api = new ApiClient(stack.url);
  const [sender, receiver] = [await registerUser(api), await registerUser(api)];
  return { name, stack, api, sender, receiver };
}

async function sendAndDownload(sides: Side[], size: number): Promise<Record<'on' | 'off', { send: Timing; download: Timing }>> {
  const bytes = jpegBytes(size);
  const bodies = sides.map((s) =>
    multipartBody({
      query: 'mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { messageKey } }',
      variables: { r: s.receiver.uid, size },
      file: bytes,
    }),
  );
  const sendMs = sides.map(() => [] as number[]);
  const getMs = sides.map(() => [] as number[]);
  for (let i = -3; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const s = sides[k];
      const headers = { 'content-type': bodies[k].contentType, 'apollo-require-preflight': 'true', authorization: `Bearer ${s.sender.token}` };
      const sent = await timedPost(s.stack.url, headers, bodies[k].body);
      const key = sent.json.data.sendImage.messageKey as string;
      const url = (await s.api.gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: key }, s.receiver.token)).data!.image.downloadUrl;
      const got = await download(url, size);
      await s.api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: key }, s.receiver.token);
      if (i >= 0) {
        sendMs[k].push(sent.ms);
        getMs[k].push(got);
      }
    }
  }
  const out = {} as Record<'on' | 'off', { send: Timing; download: Timing }>;
  sides.forEach((s, k) => (out[s.name] = { send: stats(sendMs[k]), download: stats(getMs[k]) }));
  return out;
}

/** Child mode: one server, one 200 MiB upload streamed from memory-light chunks; prints peak RSS growth. */
async function rssChild(mode: 'on' | 'off'): Promise<void> {
  const total = 200 * MiB;
  const s = await side(mode, { RATE_LIMIT_MULTIPLIER: '100000', LOG_LEVEL: 'silent', BACKGROUND_JOBS: 'false', MAX_IMAGE_BYTES: String(total) });
  try {
    const boundary = 'benchboundary';
    const operations = JSON.stringify({
      query: 'mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { size } }',
      variables: { r: s.receiver.uid, image: null, size: total },
    });
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.image"]}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const chunk = jpegBytes(256 * 1024);
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${s.stack.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + total + tail.length),
          'apollo-require-preflight': 'true',
          authorization: `Bearer ${s.sender.token}`,
        },
      }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const json = JSON.parse(Buffer.concat(parts).toString());
          if (json.errors) reject(new Error(JSON.stringify(json.errors)));
          else resolve();
        });
      });
      req.on('error', reject);
      req.write(head);
      let sent = 0;
      const more = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', more);
        }
        req.end(tail);
      };
      more();
    });
    clearInterval(timer);
    const maxRss = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(`${JSON.stringify({ mode, baselineMiB: round(before / MiB), peakGrowthMiB: round((Math.max(peak, maxRss) - before) / MiB) })}\n`);
  } finally {
    await s.stack.stop();
  }
}

function rssOf(mode: 'on' | 'off'): Promise<{ baselineMiB: number; peakGrowthMiB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', __filename, '--rss', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) reject(new Error(`rss child (${mode}) exited ${code}: ${out}`));
      else resolve(JSON.parse(line));
    });
  });
}

async function main(): Promise<void> {
  const env = { RATE_LIMIT_MULTIPLIER: '100000', LOG_LEVEL: 'silent', BACKGROUND_JOBS: 'false' };
  const sides: Side[] = [];
  let figures;
  try {
    sides.push(await side('on', env), await side('off', env));
    const oneMiB = await sendAndDownload(sides, MiB);
    console.log('1 MiB', oneMiB);
    const tenMiB = await sendAndDownload(sides, 10 * MiB);
    console.log('10 MiB', tenMiB);
    figures = { oneMiB, tenMiB };
  } finally {
    for (const s of sides) await s.stack.stop();
  }
  // Each mode twice, alternating: a single peak reading moves with what the machine does.
  const rss: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (const mode of ['off', 'on', 'on', 'off'] as const) rss[mode].push((await rssOf(mode)).peakGrowthMiB);
  console.log('peak RSS growth during a 200 MiB upload (MiB)', rss);
  const ratio = (off: Timing, on: Timing) => round(off.median / on.median);
  const encryption = {
    measuredAt: new Date().toISOString(),
    loadAverage: os.loadavg().map(round),
    rounds: ROUNDS,
    setup: 'one process: two Glimpse servers (ENCRYPTION on / off), client and s3rver; MariaDB on loopback; prebuilt bodies; rounds alternated; ms',
    sendImage1MiB: { on: figures.oneMiB.on.send, off: figures.oneMiB.off.send, throughputOnOverOff: ratio(figures.oneMiB.off.send, figures.oneMiB.on.send), target: '>= 0.95' },
    sendImage10MiB: { on: figures.tenMiB.on.send, off: figures.tenMiB.off.send, throughputOnOverOff: ratio(figures.tenMiB.off.send, figures.tenMiB.on.send), target: '>= 0.95' },
    download1MiB: { on: figures.oneMiB.on.download, off: figures.oneMiB.off.download, throughputOnOverOff: ratio(figures.oneMiB.off.download, figures.oneMiB.on.download), target: '>= 0.95' },
    download10MiB: { on: figures.tenMiB.on.download, off: figures.tenMiB.off.download, throughputOnOverOff: ratio(figures.tenMiB.off.download, figures.tenMiB.on.download), target: '>= 0.95' },
    peakRssGrowth200MiBUploadMiB: {
      on: rss.on,
      off: rss.off,
      differenceOfMedians: round(Math.max(...rss.on) / 2 + Math.min(...rss.on) / 2 - (Math.max(...rss.off) / 2 + Math.min(...rss.off) / 2)),
      target: 'within 8 MiB',
    },
  };
  const file = path.resolve(__dirname, '../../bench/results.json');
  const existing = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  fs.writeFileSync(file, `${JSON.stringify({ ...existing, encryption }, null, 2)}\n`);
  console.log(JSON.stringify(encryption, null, 2));
}

const rssArg = process.argv.indexOf('--rss');
(rssArg > 0 ? rssChild(process.argv[rssArg + 1] as 'on' | 'off') : main()).then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
