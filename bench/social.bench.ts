import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { jpegBytes } from '../test/support/factories';
import { multipartBody } from '../test/support/client';
import { bufferPoolBytes, diskReads, GiB, PoolUse, withBufferPoolAtLeast } from './buffer-pool';
import { BenchUser, gql, register } from './glimpse-api';
import { median, percentile, request } from './http';
import { MiB, Plan } from './plan';
import { IndexSize, seededPhoneHash, seedUsers } from './seed';
import { BenchStack, GLIMPSE_BUCKET, GlimpseService } from './stack';

/** One side of a comparison: medians and spread of its timed calls, in ms. */
export interface CallTiming {
  p50: number;
  p90: number;
  runs: number;
}

export interface DiscoveryFigure extends CallTiming {
  users: number;
  /** Users the last call answered with (of the registered half of its hashes; about 9 in 10 are discoverable). */
  found: number;
  /** InnoDB pages read from disk during this side's calls, per call (the counter is server-wide). */
  diskReadsPerCall: number;
}

export interface SocialResults {
  discoverContacts: {
    hashes: number;
    registeredAmongThem: number;
    small: DiscoveryFigure;
    large: DiscoveryFigure;
    /** large p50 ÷ small p50, with the buffer pool holding discovery's index (the goal). */
    ratio: number;
    bufferPool: PoolUse;
    /** The large side's covering index idx_user_discovery. */
    index: IndexSize;
    seedSeconds: number;
    /** Full plan only, when the pool was smaller than 1 GiB: the same comparison at the pool as found. */
    at1e6UsersPoolAsFound?: DiscoveryFigure;
    at1e4UsersPoolAsFound?: DiscoveryFigure;
    ratioPoolAsFound?: number;
  };
  sendGroupImage: {
    bytes: number;
    members: number;
    sendImage: CallTiming;
    sendGroupImage: CallTiming;
    /** sendGroupImage p50 ÷ sendImage p50 (the goal). */
    ratio: number;
  };
}

const HASHES = 1000;
const REGISTERED = 500;
const DISCOVERY_QUERY = 'query($h: [String!]!) { discoverContacts(phoneHashes: $h) { uid nickname phoneHash } }';
/** What the app reads of a message it just sent, the same for both sends. */
const SENT_FIELDS = 'id messageKey receiverUid sendTime exist filetype size';

/** Fixed-pool bench phones (see glimpse-api): run.ts keeps 0, 1 and 100.. for its own users. */
const GROUP_SENDER = 2;
const DISCOVERY_VIEWER = 3;
const FIRST_MEMBER = 20;

/**
 * Issue 8's two targets. discoverContacts with 1,000 hashes (500 of distinct registered users,
 * 500 of nobody) on a Glimpse whose database holds `largeUsers` users against one holding
 * `smallUsers`, calls interleaved; and one sendGroupImage of 1 MiB to `members` members against
 * one sendImage of the same bytes, interleaved.
 */
export async function benchSocial(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<SocialResults> {
  const p = plan.social;
  // Before the bulk insert: its dirty pages are flushed for a minute afterwards.
  const group = await groupVsDirect(stack, plan, log);
  await stack.emptyBucket(GLIMPSE_BUCKET);

  const largeSvc = stack.glimpse;
  const smallSvc = await stack.startGlimpse('glimpse-small');
  const small = { svc: smallSvc, users: p.smallUsers, viewer: await register(smallSvc.url, 'fixed', DISCOVERY_VIEWER) };
  const large = { svc: largeSvc, users: p.largeUsers, viewer: await register(largeSvc.url, 'fixed', DISCOVERY_VIEWER) };
  const started = Date.now();
  await seedUsers(small.svc.databaseUrl, small.users, p.settleMs);
  const seeded = await seedUsers(large.svc.databaseUrl, large.users, p.settleMs);
  const seedSeconds = (Date.now() - started) / 1000;
  log(
    `seeded ${small.users} and ${large.users} users in ${seedSeconds.toFixed(1)} s; idx_user_discovery at ${seeded.index.users} users: ${seeded.index.bytes} bytes (${seeded.index.bytesPerUser.toFixed(0)} per user)`,
  );

  const conn = await mysql.createConnection({ uri: large.svc.databaseUrl });
  try {
    const found = await bufferPoolBytes(conn);
    let asFound: DiscoveryFigure[] | undefined;
    if (p.resizePool && found < GiB) {
      // What a server with MariaDB's default pool (128 MiB) sees: the index does not stay cached.
      asFound = await discoveryRounds([small, large], plan, conn);
      log(`discoverContacts at the pool as found (${found} bytes): ${describe(asFound)}`);
    }
    const measured = await withBufferPoolAtLeast(large.svc.databaseUrl, p.resizePool ? GiB : 0, log, async (pool) => {
      // A serving instance has its hot index cached; traffic would read it in, this reads it once.
      for (const side of [small, large]) await warmDiscoveryIndex(side.svc);
      const figures = await discoveryRounds([small, large], plan, conn);
      log(`discoverContacts at a ${pool.usedBytes}-byte pool: ${describe(figures)}`);
      return { pool, figures };
    });
    const [s, l] = measured.figures;
    return {
      discoverContacts: {
        hashes: HASHES,
        registeredAmongThem: REGISTERED,
        small: s,
        large: l,
        ratio: l.p50 / s.p50,
        bufferPool: measured.pool,
        index: seeded.index,
        seedSeconds,
        ...(asFound
          ? { at1e4UsersPoolAsFound: asFound[0], at1e6UsersPoolAsFound: asFound[1], ratioPoolAsFound: asFound[1].p50 / asFound[0].p50 }
          : {}),
      },
      sendGroupImage: group,
    };
  } finally {
    await conn.end();
  }
}

function describe([s, l]: DiscoveryFigure[]): string {
  const one = (f: DiscoveryFigure) =>
    `${f.users} users p50 ${f.p50.toFixed(2)} ms (${f.diskReadsPerCall.toFixed(1)} disk reads/call, ${f.found} found)`;
  return `${one(s)}, ${one(l)}; ratio ${(l.p50 / s.p50).toFixed(2)}`;
}

async function warmDiscoveryIndex(svc: GlimpseService): Promise<void> {
  const c = await mysql.createConnection({ uri: svc.databaseUrl });
  try {
    await c.query("SELECT COUNT(*) FROM `user` USE INDEX (idx_user_discovery) WHERE phone_hash >= ''");
  } finally {
    await c.end();
  }
}

interface DiscoverySide {
  svc: GlimpseService;
  users: number;
  viewer: BenchUser;
}

/** A discoverContacts body: hashes of REGISTERED distinct seeded users, and of as many numbers nobody has. */
function discoveryBody(population: number): Buffer {
  const picked = new Set<number>();
  while (picked.size < Math.min(REGISTERED, population)) picked.add(1 + Math.floor(Math.random() * population));
  const h = [...[...picked].map(seededPhoneHash), ...Array.from({ length: HASHES - picked.size }, () => randomBytes(32).toString('hex'))];
  return Buffer.from(JSON.stringify({ query: DISCOVERY_QUERY, variables: { h } }));
}

/**
 * Warm-up calls, then rounds of one call per side, the order alternating, each with fresh hashes
 * (bodies built beforehand). The disk-read counter is read around every call, untimed.
 */
async function discoveryRounds(sides: DiscoverySide[], plan: Plan, conn: mysql.Connection): Promise<DiscoveryFigure[]> {
  const { warmups, discoveryRounds: rounds } = plan.social;
  const bodies = sides.map((s) => Array.from({ length: warmups + rounds }, () => discoveryBody(s.users)));
  const ms: number[][] = sides.map(() => []);
  const reads = sides.map(() => 0);
  const found = sides.map(() => 0);
  for (let i = 0; i < warmups + rounds; i++) {
    const order = sides.map((_, k) => (i % 2 === 0 ? k : sides.length - 1 - k));
    for (const k of order) {
      const side = sides[k];
      const before = await diskReads(conn);
      const start = process.hrtime.bigint();
      const res = await request(
        `${side.svc.url}/graphql`,
        'POST',
        { 'content-type': 'application/json', authorization: `Bearer ${side.viewer.token}` },
        bodies[k][i],
      );
      const took = Number(process.hrtime.bigint() - start) / 1e6;
      const after = await diskReads(conn);
      const answer = JSON.parse(res.body.toString('utf8')) as { data?: { discoverContacts: unknown[] }; errors?: unknown };
      if (!answer.data) throw new Error(`discoverContacts answered ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
      if (i < warmups) continue;
      ms[k].push(took);
      reads[k] += after - before;
      found[k] = answer.data.discoverContacts.length;
    }
  }
  return sides.map((s, k) => ({ users: s.users, ...timing(ms[k]), found: found[k], diskReadsPerCall: reads[k] / rounds }));
}

function timing(ms: number[]): CallTiming {
  return { p50: median(ms), p90: percentile(ms, 90), runs: ms.length };
}

/**
 * One sender, `members` friends in a group with it; sendImage of 1 MiB to one of them against
 * sendGroupImage of the same bytes to all, warm-ups first, then rounds with the order alternating.
 */
async function groupVsDirect(stack: BenchStack, plan: Plan, log: (s: string) => void): Promise<SocialResults['sendGroupImage']> {
  const { members: count, warmups, groupRounds: rounds } = plan.social;
  const url = stack.glimpse.url;
  const sender = await register(url, 'fixed', GROUP_SENDER);
  const members: BenchUser[] = [];
  for (let i = 0; i < count; i++) members.push(await register(url, 'fixed', FIRST_MEMBER + i));
  const befriend = 'mutation($u: Int!) { requestFriend(uid: $u) { state } }';
  for (const m of members) {
    await gql(url, sender.token, befriend, { u: m.uid });
    await gql(url, m.token, befriend, { u: sender.uid });
  }
  const created = await gql<{ createGroup: { id: number } }>(
    url,
    sender.token,
    'mutation($m: [Int!]!) { createGroup(name: "bench", memberUids: $m) { id } }',
    {
      m: members.map((m) => m.uid),
    },
  );
  const bytes = jpegBytes(MiB);
  const prepared = (query: string, variables: Record<string, unknown>) => {
    const { body, contentType } = multipartBody({ query, variables: { ...variables, size: bytes.length }, file: bytes });
    return { body, headers: { 'content-type': contentType, 'apollo-require-preflight': 'true', authorization: `Bearer ${sender.token}` } };
  };
  const direct = prepared(
    `mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { ${SENT_FIELDS} } }`,
    {
      r: members[0].uid,
    },
  );
  const grouped = prepared(
    `mutation($g: Int!, $image: Upload!, $size: Int) { sendGroupImage(groupId: $g, image: $image, size: $size) { ${SENT_FIELDS} } }`,
    {
      g: created.createGroup.id,
    },
  );
  const send = async (which: 'direct' | 'group'): Promise<number> => {
    const req = which === 'direct' ? direct : grouped;
    const start = process.hrtime.bigint();
    const res = await request(`${url}/graphql`, 'POST', req.headers, req.body);
    const took = Number(process.hrtime.bigint() - start) / 1e6;
    const answer = JSON.parse(res.body.toString('utf8')) as { data?: { sendImage?: unknown; sendGroupImage?: unknown[] } };
    const ok = which === 'direct' ? !!answer.data?.sendImage : answer.data?.sendGroupImage?.length === count;
    if (!ok) throw new Error(`${which} send answered ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
    return took;
  };
  const times = { direct: [] as number[], group: [] as number[] };
  for (let i = 0; i < warmups; i++) for (const which of ['direct', 'group'] as const) await send(which);
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so that neither always follows the other's leftover work.
    for (const which of i % 2 === 0 ? (['direct', 'group'] as const) : (['group', 'direct'] as const)) times[which].push(await send(which));
  }
  const result = {
    bytes: MiB,
    members: count,
    sendImage: timing(times.direct),
    sendGroupImage: timing(times.group),
    ratio: median(times.group) / median(times.direct),
  };
  log(
    `sendImage 1 MiB p50 ${result.sendImage.p50.toFixed(2)} ms, sendGroupImage 1 MiB × ${count} p50 ${result.sendGroupImage.p50.toFixed(2)} ms; ratio ${result.ratio.toFixed(2)}`,
  );
  return result;
}
