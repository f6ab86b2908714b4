/**
 * sql.js against better-sqlite3 as the TypeORM driver of the zero-setup default: the same
 * entities and migrations, the same small workload, on a file in a temporary folder.
 *
 *   npm run build
 *   (cd /tmp/sqljs && npm init -y && npm install sql.js@1.16.0)
 *   SQLJS_PATH=/tmp/sqljs/node_modules/sql.js node dist/bench/sqlite-drivers.js
 *
 * Workload: N sends (one transaction each: an image row and a message row, as sendImage
 * writes them), then N lookups of a message by its key, then N confirms (one UPDATE each);
 * first on an empty database, then again after PRELOAD more sends, to see how cost grows with
 * the database. sql.js keeps the database in memory; with autoSave (needed for it to survive a
 * restart) TypeORM writes the whole file after every write.
 */
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { entities } from '../src/entities';
import { Image } from '../src/entities/image.entity';
import { Message } from '../src/entities/message.entity';
import { User } from '../src/entities/user.entity';
import { migrations } from '../src/migrations';

const N = Number(process.env.N ?? 500);
const PRELOAD = Number(process.env.PRELOAD ?? 10_000);

type Variant = { name: string; options: (file: string) => Promise<DataSourceOptions> };

const variants: Variant[] = [
  {
    name: 'better-sqlite3 (WAL)',
    options: async (file) => ({
      type: 'better-sqlite3',
      database: file,
      prepareDatabase: (d: { pragma(s: string): unknown }) => {
        d.pragma('journal_mode = WAL');
        d.pragma('foreign_keys = ON');
      },
    }),
  },
];
if (process.env.SQLJS_PATH) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const initSqlJs = require(process.env.SQLJS_PATH);
  variants.push({
    name: 'sql.js (autoSave)',
    options: async (file) => ({ type: 'sqljs', location: file, autoSave: true, driver: initSqlJs }),
  });
  variants.push({
    name: 'sql.js (no autoSave: lost on a crash)',
    options: async (file) => ({ type: 'sqljs', location: file, autoSave: false, driver: initSqlJs }),
  });
}

async function sends(ds: DataSource, users: User[], count: number): Promise<string[]> {
  const keys: string[] = [];
  const now = new Date();
  for (let i = 0; i < count; i++) {
    const key = randomBytes(32).toString('hex');
    keys.push(key);
    await ds.transaction(async (tx) => {
      const img = await tx.getRepository(Image).insert({
        objectName: key,
        filetype: 'image/jpeg',
        size: 123456,
        sha256: createHash('sha256').update(key).digest('hex'),
        expiresAt: now,
        createdAt: now,
      });
      await tx.getRepository(Message).insert({
        messageKey: key,
        senderUid: users[0].uid,
        receiverUid: users[1].uid,
        imageId: img.identifiers[0].id as number,
        sendTime: now,
        exist: true,
      });
    });
  }
  return keys;
}

/** More rows in one transaction, so that building the bigger database is quick for every driver. */
async function preload(ds: DataSource, users: User[], count: number): Promise<void> {
  const now = new Date();
  await ds.transaction(async (tx) => {
    for (let done = 0; done < count; done += 250) {
      const keys = Array.from({ length: Math.min(250, count - done) }, () => randomBytes(32).toString('hex'));
      const imgs = await tx
        .getRepository(Image)
        .insert(keys.map((key) => ({ objectName: key, filetype: 'image/jpeg', size: 1, sha256: key, expiresAt: now, createdAt: now })));
      await tx.getRepository(Message).insert(
        keys.map((key, i) => ({
          messageKey: key,
          senderUid: users[0].uid,
          receiverUid: users[1].uid,
          imageId: imgs.identifiers[i].id as number,
          sendTime: now,
          exist: true,
        })),
      );
    }
  });
}

async function timed(label: string, count: number, work: () => Promise<unknown>): Promise<string> {
  const t0 = process.hrtime.bigint();
  await work();
  const us = Number(process.hrtime.bigint() - t0) / 1000 / count;
  return `${label} ${us.toFixed(0)} µs/op`;
}

async function round(ds: DataSource, users: User[], tag: string): Promise<string> {
  let keys: string[] = [];
  const parts = [
    await timed('send', N, async () => (keys = await sends(ds, users, N))),
    await timed('lookup', N, async () => {
      for (const k of keys) await ds.getRepository(Message).findOneByOrFail({ messageKey: k });
    }),
    await timed('confirm', N, async () => {
      for (const k of keys) await ds.getRepository(Message).update({ messageKey: k }, { exist: false, endedAt: new Date() });
    }),
  ];
  return `  ${tag}: ${parts.join(', ')}`;
}

async function main(): Promise<void> {
  console.log(`N=${N}, PRELOAD=${PRELOAD}, node ${process.version}`);
  for (const v of variants) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-sqlite-bench-'));
    const file = path.join(dir, 'bench.sqlite');
    const t0 = Date.now();
    const ds = new DataSource({
      ...(await v.options(file)),
      entities,
      migrations,
      synchronize: false,
      logging: false,
    } as DataSourceOptions);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const startMs = Date.now() - t0;
    const now = new Date();
    const users: User[] = [];
    for (const n of ['a', 'b']) {
      await ds.getRepository(User).insert({
        cid: n,
        ukeyHash: n.repeat(64),
        regionNum: '86',
        phoneNum: `1390000000${users.length}`,
        phoneHash: createHash('sha256').update(n).digest('hex'),
        nickname: n,
        regTime: now,
        updatedAt: now,
      });
      users.push(await ds.getRepository(User).findOneByOrFail({ cid: n }));
    }
    console.log(`${v.name}: open + migrate ${startMs} ms`);
    console.log(await round(ds, users, 'empty database'));
    const preloadStart = Date.now();
    await preload(ds, users, PRELOAD);
    const preloadMs = Date.now() - preloadStart;
    const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
    console.log(`  preload of ${PRELOAD} sends: ${preloadMs} ms; file ${(size / 1024 / 1024).toFixed(1)} MiB`);
    console.log(await round(ds, users, `after ${PRELOAD + N} sends`));
    await ds.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
