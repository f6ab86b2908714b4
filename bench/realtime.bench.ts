import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { jpegBytes } from '../test/support/factories';
import { BenchUser, gql, prepareSendImage, register, sendImage } from './glimpse-api';
import { percentile } from './http';
import type { Plan } from './plan';
import { memoryOf } from './procs';
import type { BenchStack, GlimpseService } from './stack';

export interface LatencyStats {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export interface RealtimeResults {
  /** ms from the action's outbox commit to the event at the subscriber, one action at a time. */
  sameInstance: LatencyStats;
  acrossRedis: LatencyStats;
  acrossPoll: LatencyStats & { pollMs: number };
  idle: {
    connections: number;
    users: number;
    /** Server RSS before and after the connections opened (each authenticated, one subscription), after full collections. */
    rssBeforeMiB: number;
    rssAfterMiB: number;
    bytesPerConnection: number;
    openSeconds: number;
    /** One event to `subscribers` subscriptions at once, `events` times: ms to each of them. */
    fanout: LatencyStats & { subscribers: number; events: number };
  };
}

const SUBSCRIPTION = 'subscription { events { kind at messageId } }';
const SCREENSHOT = 'mutation($k: String!) { reportScreenshot(messageKey: $k) }';
/** Fixed-pool bench phones (see glimpse-api) of this section: run.ts and social use others. */
const FIRST_PHONE = 150;
const WAIT_MS = 60_000;

interface Arrival {
  at: number;
  event: { kind: string; at: string; messageId: number | null };
}

/** A subscriber speaking graphql-transport-ws with no client library: the bench's own CPU stays small. */
async function openSubscriber(baseUrl: string, token: string, onEvent: (a: Arrival) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const at = Date.now();
      const m = JSON.parse(String(data)) as { type: string; payload?: { data?: { events: Arrival['event'] } } };
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION } }));
        resolve();
      } else if (m.type === 'next' && m.payload?.data) onEvent({ at, event: m.payload.data.events });
      else if (m.type === 'error') reject(new Error(`subscription refused: ${JSON.stringify(m.payload)}`));
    });
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.once('close', (code) => reject(new Error(`socket closed with ${code}`)));
  });
  ws.on('error', () => undefined);
  return ws;
}

/** `count` images from `sender` to `receiver`, whose keys a screenshot report names (one report each). */
async function sendImages(url: string, sender: BenchUser, receiver: BenchUser, count: number): Promise<string[]> {
  const upload = prepareSendImage(sender.token, receiver.uid, jpegBytes(1024));
  const keys: string[] = [];
  for (let i = 0; i < count; i++) keys.push(await sendImage(url, upload, 1024));
  return keys;
}

function stats(xs: number[]): LatencyStats {
  const sorted = [...xs].sort((a, b) => a - b);
  return { samples: xs.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
}

/** Resolves once `check` holds, polled as arrivals come in. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`realtime bench: ${what} did not happen within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Latency from commit to subscriber: `viewer` reports a screenshot of one of `subscriber`'s
 * images on `actionUrl` (its outbox row's created_at is taken just before the commit), and the
 * SCREENSHOT event's `at` is that time; the subscriber listens on `subscribeUrl`.
 */
async function latency(
  actionUrl: string,
  subscribeUrl: string,
  subscriber: BenchUser,
  viewer: BenchUser,
  samples: number,
): Promise<LatencyStats> {
  const keys = await sendImages(actionUrl, subscriber, viewer, samples + 1);
  const arrivals: Arrival[] = [];
  const ws = await openSubscriber(subscribeUrl, subscriber.token, (a) => arrivals.push(a));
  try {
    // The first report warms the path and shows the subscription is live.
    await gql(actionUrl, viewer.token, SCREENSHOT, { k: keys[0] });
    await until(() => arrivals.length === 1, 'the warm-up event');
    const ms: number[] = [];
    for (let i = 1; i <= samples; i++) {
      await gql(actionUrl, viewer.token, SCREENSHOT, { k: keys[i] });
      await until(() => arrivals.length === i + 1, `event ${i}`);
      const a = arrivals[i];
      ms.push(a.at - Date.parse(a.event.at));
    }
    return stats(ms);
  } finally {
    ws.terminate();
  }
}

/** The most sockets this process may open, from its file-descriptor limit (ulimit -n). */
function fdLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : Infinity;
}

export async function benchRealtime(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<RealtimeResults> {
  const p = plan.realtime;
  const key = randomBytes(32).toString('base64');
  // Two instances on one database share its master key, as every instance of a deployment does.
  const pair = async (name: string, env: Record<string, string>): Promise<[GlimpseService, GlimpseService]> => {
    const a = await stack.startGlimpse(`${name}-a`, { ENCRYPTION_KEY: key, ...env });
    const b = await stack.startGlimpse(`${name}-b`, { ENCRYPTION_KEY: key, DATABASE_URL: a.databaseUrl, ...env });
    return [a, b];
  };
  const people = async (url: string) => [await register(url, 'fixed', FIRST_PHONE), await register(url, 'fixed', FIRST_PHONE + 1)];

  log(`realtime: latency on one instance (${p.samples} events)`);
  const [s1, v1] = await people(stack.glimpse.url);
  const sameInstance = await latency(stack.glimpse.url, stack.glimpse.url, s1, v1, p.samples);

  log(`realtime: latency across two instances with Redis (${p.samples} events)`);
  const redisPrefix = `glimpse-bench-${process.pid}-${Date.now()}:`;
  const [ra, rb] = await pair('glimpse-rt-redis', {
    REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: redisPrefix,
  });
  const [s2, v2] = await people(ra.url);
  const acrossRedis = await latency(ra.url, rb.url, s2, v2, p.samples);
  await rb.stop();
  await ra.stop();

  const pollMs = 1000;
  log(`realtime: latency across two instances without Redis, REALTIME_POLL_MS=${pollMs} (${p.pollSamples} events)`);
  const [pa, pb] = await pair('glimpse-rt-poll', { REALTIME_POLL_MS: String(pollMs) });
  const [s3, v3] = await people(pa.url);
  const acrossPoll = { ...(await latency(pa.url, pb.url, s3, v3, p.pollSamples)), pollMs };
  await pb.stop();
  await pa.stop();

  const room = fdLimit() - 1000;
  const connections = Math.min(p.idleConnections, room);
  if (connections < p.idleConnections) log(`realtime: ulimit -n allows ${connections} sockets, not ${p.idleConnections}`);
  const perUser = Math.ceil(connections / p.idleUsers);
  log(`realtime: ${connections} idle subscribers (${p.idleUsers} users × ${perUser}) on one instance`);
  const idleSvc = await stack.startGlimpse('glimpse-rt-idle', { SUBSCRIPTIONS_PER_USER: String(perUser) }, [
    '--expose-gc',
    '-r',
    path.join(__dirname, 'gc-on-signal.js'),
  ]);
  // What is live, not what awaits collection: RSS is read after full collections (gc-on-signal).
  const liveRss = async () => {
    process.kill(idleSvc.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, plan.idleMs));
    return memoryOf(idleSvc.pid).rss;
  };
  const viewer = await register(idleSvc.url, 'fixed', FIRST_PHONE + 1);
  const users: BenchUser[] = [];
  for (let i = 0; i < p.idleUsers; i++) users.push(await register(idleSvc.url, 'fixed', FIRST_PHONE + 2 + i));
  const warmKeys = await Promise.all(users.map((u) => sendImages(idleSvc.url, u, viewer, 1)));
  const fanKeys = await sendImages(idleSvc.url, users[0], viewer, p.fanoutEvents);
  // A first socket loads every code path before the baseline is read.
  const probe = await openSubscriber(idleSvc.url, users[0].token, () => undefined);
  probe.terminate();
  const before = await liveRss();
  const sockets: WebSocket[] = [];
  const counts = new Map<number, number>();
  let fan: Arrival[] = [];
  const started = Date.now();
  try {
    for (let i = 0; i < connections; i += 200) {
      const batch = Array.from({ length: Math.min(200, connections - i) }, (_, j) => {
        const user = users[(i + j) % users.length];
        return openSubscriber(idleSvc.url, user.token, (a) => {
          counts.set(user.uid, (counts.get(user.uid) ?? 0) + 1);
          if (user === users[0]) fan.push(a);
        });
      });
      sockets.push(...(await Promise.all(batch)));
    }
    // One event per user shows every subscription is live.
    for (const keys of warmKeys) await gql(idleSvc.url, viewer.token, SCREENSHOT, { k: keys[0] });
    const expected = (_u: BenchUser, i: number) => Math.floor(connections / users.length) + (i < connections % users.length ? 1 : 0);
    await until(() => users.every((u, i) => (counts.get(u.uid) ?? 0) >= expected(u, i)), 'the warm-up events on every socket');
    const openSeconds = (Date.now() - started) / 1000;
    const after = await liveRss();

    const subscribers = expected(users[0], 0);
    log(`realtime: one event to ${subscribers} subscriptions at once, ${p.fanoutEvents} times`);
    const ms: number[] = [];
    for (const k of fanKeys) {
      fan = [];
      await gql(idleSvc.url, viewer.token, SCREENSHOT, { k });
      await until(() => fan.length >= subscribers, 'the fan-out event on every socket');
      for (const a of fan) ms.push(a.at - Date.parse(a.event.at));
    }
    return {
      sameInstance,
      acrossRedis,
      acrossPoll,
      idle: {
        connections,
        users: users.length,
        rssBeforeMiB: before / 2 ** 20,
        rssAfterMiB: after / 2 ** 20,
        bytesPerConnection: (after - before) / connections,
        openSeconds,
        fanout: { ...stats(ms), subscribers, events: fanKeys.length },
      },
    };
  } finally {
    for (const s of sockets) s.terminate();
    await idleSvc.stop();
  }
}
