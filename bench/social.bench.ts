/**
 * Social-graph benchmark (standalone until it joins `npm run bench`):
 *
 * 1. discoverContacts with 1,000 hashes (half of them registered) at 10^4 and at 10^6 users;
 *    the users are seeded in bulk with SQL (MariaDB's seq_1_to_N), not through the API.
 * 2. sendGroupImage of a 1 MiB image to a group of 50 other members against one sendImage of
 *    the same bytes, interleaved round by round.
 *
 * Runs on MariaDB + s3rver on loopback (the test stack), everything in this one process, with
 * prebuilt request bodies so the server is what is measured. Writes its figures under the key
 * "social" of bench/results.json. Usage: npm run bench:social [-- --rounds 30]
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ApiClient, multipartBody } from '../test/support/client';
import { jpegBytes, registerUser, TestUser } from '../test/support/factories';
import { startStack, TestStack } from '../test/support/stack';
import { round, stats, timedPost, Timing } from './timing';

const MiB = 1024 * 1024;
const argRounds = process.argv.indexOf('--rounds');
const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 30;





async function seedUsers(stack: TestStack, from: number, to: number): Promise<void> {
  const db = stack.server.container.db;
  // Numbers 139 00000000 + n: valid Chinese mobile numbers, hashed exactly as the server hashes them.
  for (let start = from; start <= to; start += 100_000) {
    const end = Math.min(to, start + 99_999);
    await db.query(
      `INSERT INTO user (cid, ukey_hash, region_num, phone_num, phone_hash, nickname, reg_time, updated_at, who_can_send_me, discoverable)
       SELECT CONCAT('bench', seq), SHA2(seq, 256), '86', CONCAT('138', LPAD(seq, 8, '0')),
              SHA2(CONCAT('+86138', LPAD(seq, 8, '0')), 256), CONCAT('u', seq), NOW(3), NOW(3), 'EVERYONE', seq % 10 <> 0
       FROM seq_${start}_to_${end}`,
    );
  }
  // Some blocks, so the NOT EXISTS has rows to look at.
  await db.query(
    `INSERT IGNORE INTO user_block (blocker_uid, blocked_uid, created_at)
     SELECT u.id, u.id + 1, NOW(3) FROM user u WHERE u.id % 50 = 0 AND u.id BETWEEN ? AND ?`,
    [from, to],
  );
}

const hashOf = (n: number) => createHash('sha256').update(`+86138${String(n).padStart(8, '0')}`).digest('hex');

/** A discoverContacts body: 500 hashes of users registered among the first `population`, 500 of nobody. */
function discoveryBody(population: number): Buffer {
  const h = [
    ...Array.from({ length: 500 }, () => hashOf(1 + Math.floor(Math.random() * population))),
    ...Array.from({ length: 500 }, () => randomBytes(32).toString('hex')),
  ];
  return Buffer.from(JSON.stringify({ query: 'query($h: [String!]!) { discoverContacts(phoneHashes: $h) { uid nickname phoneHash } }', variables: { h } }));
}

interface Population {
  stack: TestStack;
  viewer: TestUser;
  users: number;
}

/**
 * Rounds interleaved between the populations (the order alternating), a fresh set of hashes
 * each call, so that the machine's changing load falls on both alike.
 */
async function discoveryRounds(pops: Population[], rounds: number): Promise<(Timing & { found: number })[]> {
  const ms: number[][] = pops.map(() => []);
  const found: number[] = pops.map(() => 0);
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? pops.map((_, k) => k) : pops.map((_, k) => pops.length - 1 - k);
    for (const k of order) {
      const p = pops[k];
      const r = await timedPost(p.stack.url, { 'content-type': 'application/json', authorization: `Bearer ${p.viewer.token}` }, discoveryBody(p.users));
      ms[k].push(r.ms);
      found[k] = (r.json.data as { discoverContacts: unknown[] }).discoverContacts.length;
    }
  }
  return ms.map((m, k) => ({ ...stats(m), found: found[k] }));
}

async function groupVsDirect(stack: TestStack): Promise<{ sendImage: Timing; sendGroupImage: Timing; members: number }> {
  const api = new ApiClient(stack.url);
  const sender = await registerUser(api);
  const friends: TestUser[] = [];
  for (let i = 0; i < 50; i++) friends.push(await registerUser(api));
  for (const f of friends) {
    await api.gql('mutation($u: Int!) { requestFriend(uid: $u) { state } }', { u: f.uid }, sender.token);
    await api.gql('mutation($u: Int!) { requestFriend(uid: $u) { state } }', { u: sender.uid }, f.token);
  }
  const group = await api.gql('mutation($m: [Int!]!) { createGroup(name: "bench", memberUids: $m) { id members { uid } } }', { m: friends.map((f) => f.uid) }, sender.token);
  const groupId = group.data!.createGroup.id as number;
  const bytes = jpegBytes(MiB);
  const fields = 'id messageKey receiverUid sendTime exist filetype size';
  const direct = multipartBody({
    query: `mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { ${fields} } }`,
    variables: { r: friends[0].uid, size: bytes.length },
    file: bytes,
  });
  const grouped = multipartBody({
    query: `mutation($g: Int!, $image: Upload!, $size: Int) { sendGroupImage(groupId: $g, image: $image, size: $size) { ${fields} } }`,
    variables: { g: groupId, size: bytes.length },
    file: bytes,
  });
  const headers = (contentType: string) => ({ 'content-type': contentType, 'apollo-require-preflight': 'true', authorization: `Bearer ${sender.token}` });
  for (let i = 0; i < 5; i++) {
    await timedPost(stack.url, headers(direct.contentType), direct.body);
    await timedPost(stack.url, headers(grouped.contentType), grouped.body);
  }
  const d: number[] = [];
  const g: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which goes first so neither always runs on a warmer server.
    const order = i % 2 === 0 ? ['d', 'g'] : ['g', 'd'];
    for (const which of order) {
      if (which === 'd') d.push((await timedPost(stack.url, headers(direct.contentType), direct.body)).ms);
      else {
        const r = await timedPost(stack.url, headers(grouped.contentType), grouped.body);
        if ((r.json.data as { sendGroupImage: unknown[] }).sendGroupImage.length !== 50) throw new Error('group send did not reach 50 members');
        g.push(r.ms);
      }
    }
  }
  return { sendImage: stats(d), sendGroupImage: stats(g), members: 50 };
}

async function main(): Promise<void> {
  const env = { RATE_LIMIT_MULTIPLIER: '100000', MAX_GROUP_MEMBERS: '51', LOG_LEVEL: 'silent', BACKGROUND_JOBS: 'false' };
  const stacks: TestStack[] = [];
  try {
    const stack = await startStack('mysql-s3', env);
    stacks.push(stack);
    const group = await groupVsDirect(stack);
    console.log('sendImage 1 MiB', group.sendImage, 'sendGroupImage 1 MiB x 50', group.sendGroupImage);

    // Two databases side by side, one with 10^4 users and one with 10^6, measured in turns.
    const smallStack = await startStack('mysql-s3', env);
    stacks.push(smallStack);
    const small: Population = { stack: smallStack, viewer: await registerUser(new ApiClient(smallStack.url)), users: 10_000 };
    const large: Population = { stack, viewer: await registerUser(new ApiClient(stack.url)), users: 1_000_000 };
    await seedUsers(smallStack, 1, 10_000);
    let t = Date.now();
    await seedUsers(stack, 1, 1_000_000);
    for (const p of [small, large]) await p.stack.server.container.db.query('ANALYZE TABLE user');
    console.log(`seeded 10^6 users in ${Date.now() - t} ms`);
    await discoveryRounds([small], 5);
    // Right after the bulk insert the buffer pool holds the rows just written, not the index
    // discovery reads: that is the cold figure. A serving instance has the index cached, so the
    // index is then read once (as traffic would) and measured again: the warm figure.
    const [, cold] = await discoveryRounds([small, large], Math.min(ROUNDS, 20));
    console.log('discoverContacts at 10^6 users, cold', cold);
    t = Date.now();
    await stack.server.container.db.query("SELECT COUNT(*) FROM user USE INDEX (idx_user_discovery) WHERE phone_hash >= ''");
    console.log(`read the discovery index once in ${Date.now() - t} ms`);
    const reads = async () => Number((await stack.server.container.db.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'"))[0].Value);
    const readsBefore = await reads();
    const [atSmall, atLarge] = await discoveryRounds([small, large], ROUNDS);
    const diskReadsPerRound = round((await reads() - readsBefore) / ROUNDS);
    console.log('InnoDB pages read from disk per round (both calls)', diskReadsPerRound);
    console.log('discoverContacts at 10^4 users', atSmall, 'at 10^6 users, warm', atLarge);
    const [pool] = await stack.server.container.db.query("SHOW VARIABLES LIKE 'innodb_buffer_pool_size'");

    const social = {
      measuredAt: new Date().toISOString(),
      loadAverage: os.loadavg().map(round),
      rounds: ROUNDS,
      setup: 'one process: Glimpse servers, client and s3rver; MariaDB on loopback; prebuilt request bodies; rounds interleaved; ms',
      discoverContacts: {
        hashes: 1000,
        registeredAmongThem: 500,
        at1e4Users: atSmall,
        at1e6Users: atLarge,
        ratio1e6over1e4: round(atLarge.median / atSmall.median),
        target: '<= 1.5',
        at1e6UsersCold: cold,
        ratio1e6ColdOver1e4: round(cold.median / atSmall.median),
        innodbBufferPoolBytes: Number(pool.Value),
        innodbDiskReadsPerRound: diskReadsPerRound,
      },
      sendGroupImage: {
        bytes: MiB,
        members: group.members,
        sendImage: group.sendImage,
        sendGroupImage: group.sendGroupImage,
        ratioGroupOverDirect: round(group.sendGroupImage.median / group.sendImage.median),
        target: '<= 1.3',
      },
    };
    const file = path.resolve(__dirname, '../../bench/results.json');
    const existing = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
    fs.writeFileSync(file, `${JSON.stringify({ ...existing, social }, null, 2)}\n`);
    console.log(JSON.stringify(social, null, 2));
  } finally {
    for (const s of stacks) await s.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
