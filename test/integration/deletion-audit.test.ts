import { expect } from 'chai';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import pino from 'pino';
import { LessThan } from 'typeorm';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { ServerSecret } from '../../src/entities/server-secret.entity';
import { truncateWal } from '../../src/database';
import { TypeormMessageRepository } from '../../src/repositories/message.typeorm-repository';
import { TypeormPushJobRepository } from '../../src/repositories/push-job.typeorm-repository';
import { TypeormVerificationCodeRepository } from '../../src/repositories/verification-code.typeorm-repository';
import { DownloadTokens } from '../../src/services/download-tokens';
import { KeyWrapper } from '../../src/services/cipher/key-wrapper';
import { SEGMENT_BYTES } from '../../src/services/cipher/segment-format';
import { RetentionService } from '../../src/services/retention.service';
import { ApiClient, httpGet } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { aliceAndBob, downloadUrlOf } from '../support/fixtures';
import { useSeed } from '../support/seed';
import { describeEachStack, TestStack } from '../support/stack';

const MASTER = randomBytes(32);
const DAY = 86_400_000;

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** The ways a secret or a key could be written down in a dump. */
function spellings(bytes: Buffer): string[] {
  return [bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')];
}

describeEachStack(
  'deletion that holds up to an auditor',
  (stack: () => TestStack) => {
    let api: ApiClient;
    let alice: TestUser;
    let bob: TestUser;
    const db = () => stack().server.container.db;
    const mysql = () => stack().kind === 'mysql-s3';
    const seeded = useSeed();

    before(async () => ({ api, alice, bob } = await aliceAndBob(stack())));

    /** Every row of every table, read raw (no entity mapping), as one string. */
    async function dump(): Promise<string> {
      const tables: { name: string }[] = mysql()
        ? await db().query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()')
        : await db().query("SELECT name FROM sqlite_master WHERE type = 'table'");
      const out: string[] = [];
      for (const { name } of tables) {
        const rows: Record<string, unknown>[] = await db().query(`SELECT * FROM ${mysql() ? `\`${name}\`` : `"${name}"`}`);
        for (const row of rows) {
          out.push(
            Object.values(row)
              .map((v) => (Buffer.isBuffer(v) ? `${v.toString('hex')} ${v.toString('latin1')}` : String(v)))
              .join('|'),
          );
        }
      }
      return out.join('\n');
    }

    /** The SQLite file and its write-ahead log, byte for byte, as someone who copies them gets them. */
    function sqliteFiles(): string {
      const file = (stack().config.database as { file: string }).file;
      return [file, `${file}-wal`]
        .filter((f) => fs.existsSync(f))
        .map((f) => fs.readFileSync(f).toString('latin1'))
        .join('');
    }

    async function send(bytes: Buffer) {
      const sent = await api.sendImage(alice.token, bob.uid, bytes);
      expect(sent.errors).to.equal(undefined);
      return sent.data!.sendImage.messageKey as string;
    }
    const urlOf = (key: string) => downloadUrlOf(api, bob, key);

    it('a database dump taken after an image is destroyed holds neither its key nor its plaintext hash (confirmed, or expired by the sweeper)', async () => {
      for (const end of ['confirm', 'expire'] as const) {
        const bytes = jpegBytes(90_000 + seeded().int(0, 65_535));
        const key = await send(bytes);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        const row = await db().getRepository(Image).findOneByOrFail({ objectName: key });
        expect(row.sha256).to.equal(sha256);
        const imageKey = new KeyWrapper(MASTER).unwrap(row.wrappedKey!, key, row.keyId);
        const secrets = [row.wrappedKey!, sha256, ...spellings(imageKey.key), ...spellings(Buffer.concat([imageKey.key, imageKey.prefix]))];
        // Before: the dump holds the wrapped key and the hash, so the checks below can fail.
        const before = await dump();
        expect(before).to.contain(row.wrappedKey!).and.to.contain(sha256);
        if (!mysql()) expect(sqliteFiles()).to.contain(row.wrappedKey!);

        if (end === 'confirm') {
          const confirmed = await api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: key }, bob.token);
          expect(confirmed.data!.confirmDownload.exist).to.equal(false);
        } else {
          await db()
            .getRepository(Image)
            .update({ objectName: key }, { expiresAt: new Date(Date.now() - 1000) });
          await stack().server.container.lifecycle.sweep();
        }
        const after = await db().getRepository(Image).findOneByOrFail({ objectName: key });
        expect(after).to.include({ wrappedKey: null, keyId: null, sha256: null });
        const dumped = await dump();
        for (const s of secrets) expect(dumped, `${end}: the dump still holds ${s.slice(0, 12)}…`).not.to.contain(s);
        if (!mysql()) {
          // secure_delete zeroes what was overwritten; the log's old page images go with a checkpoint.
          await truncateWal(db());
          const files = sqliteFiles();
          for (const s of [row.wrappedKey!, sha256])
            expect(files.includes(s), `${end}: the SQLite files still hold ${s.slice(0, 12)}…`).to.equal(false);
        }
      }
    });

    it('a dump without the master key signs no download URL and forges no receipt: the secrets in it are wrapped', async () => {
      const bytes = jpegBytes(20_000);
      const key = await send(bytes);
      const url = await urlOf(key);
      const [messageKey, exp, grantId] = url.split('/').pop()!.split('.');
      const rows = await db().getRepository(ServerSecret).find();
      const keys = new KeyWrapper(MASTER);
      expect(rows.map((r) => r.name)).to.include.members(['download-url-hmac', 'receipt-ed25519-pkcs8', 'verification-code-hmac']);
      for (const r of rows) expect(r.keyId, r.name).to.equal(keys.keyId);
      const mint = (secret: Buffer) =>
        `${stack().url}/download/${new DownloadTokens(secret).mint(messageKey, new Date(Number(exp) * 1000), Number(grantId))}`;

      // Whatever a dump's value is taken for, a URL signed with it is refused.
      for (const r of rows) {
        for (const secret of [Buffer.from(r.value, 'base64'), Buffer.from(r.value, 'base64url'), Buffer.from(r.value)])
          expect((await get(mint(secret))).status, r.name).to.equal(403);
      }
      const jwk = JSON.parse((await httpGet(`${stack().url}/.well-known/glimpse-receipt-key`)).body.toString());
      const receiptKey = rows.find((r) => r.name === 'receipt-ed25519-pkcs8')!;
      const signed = Buffer.from(`glimpse-receipt-v1|1|viewed|${new Date().toISOString()}`);
      const holds = (pkcs8: Buffer) => {
        try {
          const signature = sign(null, signed, createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
          return verify(null, signed, createPublicKey({ key: jwk, format: 'jwk' }), signature);
        } catch {
          return false;
        }
      };
      expect(holds(Buffer.from(receiptKey.value, 'base64'))).to.equal(false);

      // With the master key the same rows do both: the refusals above are not vacuous.
      const urlSecret = rows.find((r) => r.name === 'download-url-hmac')!;
      const forged = await get(mint(Buffer.from(keys.unwrapSecret(urlSecret.value, urlSecret.name, urlSecret.keyId!), 'base64')));
      expect(forged.status).to.equal(200);
      expect(forged.body.equals(bytes)).to.equal(true);
      expect(holds(Buffer.from(keys.unwrapSecret(receiptKey.value, receiptKey.name, receiptKey.keyId!), 'base64'))).to.equal(true);
    });

    it('a secret an earlier version stored plain is wrapped at the next start and keeps its value', async () => {
      const row = await db().getRepository(ServerSecret).findOneByOrFail({ name: 'download-url-hmac' });
      const plain = new KeyWrapper(MASTER).unwrapSecret(row.value, row.name, row.keyId!);
      await stack().server.stop();
      // As the migration leaves it: the value as earlier versions stored it, no key id.
      await stack().server.container.db.initialize();
      await db().getRepository(ServerSecret).update({ name: row.name }, { value: plain, keyId: null });
      await db().destroy();
      await stack().restart();
      api = new ApiClient(stack().url);
      const again = await db().getRepository(ServerSecret).findOneByOrFail({ name: row.name });
      expect(again.keyId).to.equal(new KeyWrapper(MASTER).keyId);
      expect(again.value).not.to.equal(plain);
      // The same secret still signs: URLs minted before the upgrade keep working.
      const key = await send(jpegBytes(5_000));
      const [messageKey, exp, grantId] = (await urlOf(key)).split('/').pop()!.split('.');
      const token = new DownloadTokens(Buffer.from(plain, 'base64')).mint(messageKey, new Date(Number(exp) * 1000), Number(grantId));
      expect((await get(`${stack().url}/download/${token}`)).status).to.equal(200);
    });

    it('repeated ranges on one URL stop at the image plus one segment; a resume may repeat one segment', async () => {
      const size = 600_000;
      const bytes = jpegBytes(size);
      const key = await send(bytes);
      const budget = size + SEGMENT_BYTES;

      // The same 100,000 bytes again and again: served until the next would pass the budget.
      const url = await urlOf(key);
      let served = 0;
      let answers = 0;
      for (;;) {
        const r = await get(url, { range: 'bytes=0-99999' });
        if (r.status === 410) break;
        expect(r.status).to.equal(206);
        expect(r.body.equals(bytes.subarray(0, 100_000))).to.equal(true);
        served += r.body.length;
        expect(++answers).to.be.below(100);
      }
      expect(served).to.equal(Math.floor(budget / 100_000) * 100_000);
      expect((await get(url)).status).to.equal(410);

      // All but the last byte, twice: the second would pass the budget.
      const next = await urlOf(key);
      expect(next).not.to.equal(url);
      const most = await get(next, { range: `bytes=0-${size - 2}` });
      expect(most.status).to.equal(206);
      expect((await get(next, { range: `bytes=0-${size - 2}` })).status).to.equal(410);
      // Where the last response stopped, one segment back: exactly what the budget leaves.
      const from = size - 1 - SEGMENT_BYTES;
      const rest = await get(next, { range: `bytes=${from}-` });
      expect(rest.status).to.equal(206);
      expect(Buffer.concat([most.body.subarray(0, from), rest.body]).equals(bytes)).to.equal(true);
      expect((await get(next, { range: 'bytes=0-0' })).status).to.equal(410);
    });

    it('images and image hand out a message’s unused URL again instead of writing a grant per listing', async () => {
      const keys = [await send(jpegBytes(3_000)), await send(jpegBytes(4_000))];
      const list = async () =>
        Object.fromEntries(
          (
            (await api.gql('{ images { messageKey downloadUrl } }', {}, bob.token)).data!.images as {
              messageKey: string;
              downloadUrl: string;
            }[]
          )
            .filter((m) => keys.includes(m.messageKey))
            .map((m) => [m.messageKey, m.downloadUrl]),
        );
      const grants = async () => (await db().query('SELECT COUNT(*) AS n FROM download_grant'))[0].n;
      const first = await list();
      const count = Number(await grants());
      const second = await list();
      expect(second).to.deep.equal(first);
      expect(await urlOf(keys[0])).to.equal(first[keys[0]]);
      expect(Number(await grants())).to.equal(count);

      // Used, it is not handed out again.
      expect((await httpGet(first[keys[0]])).status).to.equal(200);
      const third = await list();
      expect(third[keys[0]]).not.to.equal(first[keys[0]]);
      expect(third[keys[1]]).to.equal(first[keys[1]]);
      expect(Number(await grants())).to.equal(count + 1);
    });

    it('ended messages and their images’ rows go MESSAGE_RETENTION_DAYS after they ended, not before, each taken by one of the instances pruning', async () => {
      const carol = await registerUser(api);
      await api.gql('mutation($u: Int!) { block(uid: $u) }', { u: alice.uid }, carol.token);
      const viewed = await send(jpegBytes(6_000));
      await httpGet(await urlOf(viewed));
      await api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: viewed }, bob.token);
      const pending = await send(jpegBytes(7_000));
      const toBlocker = (await api.sendImage(alice.token, carol.uid, jpegBytes(8_000))).data!.sendImage.messageKey as string;
      const message = (k: string) =>
        db()
          .getRepository(Message)
          .findOne({ where: { messageKey: k }, relations: { image: true } });
      const [m1, m3] = [(await message(viewed))!, (await message(toBlocker))!];
      const sent = async () =>
        ((await api.gql('{ sentImages { id } }', {}, alice.token)).data!.sentImages as { id: number }[]).map((s) => s.id);
      expect(await sent()).to.include.members([m1.id, m3.id]);

      const prune = (at: number, batchSize = 1000) =>
        new RetentionService(
          new TypeormMessageRepository(db()),
          new TypeormPushJobRepository(db()),
          new TypeormVerificationCodeRepository(db()),
          {
            downloadUrlTtlMs: 300_000,
            pushJobRetentionMs: 7 * DAY,
            messageRetentionMs: stack().config.messageRetentionDays * DAY,
            batchSize,
          },
          pino({ level: 'silent' }),
          () => new Date(at),
        ).prune();
      const window = 30 * DAY;
      await prune(m1.endedAt!.getTime() + window - 60_000);
      expect(await message(viewed), 'kept until the window is over').to.not.equal(null);

      // Two instances at once, two rows a batch: every ended row goes, none is deleted twice.
      const at = m1.endedAt!.getTime() + window + 60_000;
      const due = await db()
        .getRepository(Message)
        .countBy({ endedAt: LessThan(new Date(at - window)) });
      const [a, b] = await Promise.all([prune(at, 2), prune(at, 2)]);
      expect(a.messages + b.messages).to.equal(due);
      expect(await message(viewed)).to.equal(null);
      expect(await db().getRepository(Image).findOneBy({ id: m1.imageId })).to.equal(null);
      expect(await db().query('SELECT id FROM download_grant WHERE message_id = ?', [m1.id])).to.deep.equal([]);
      expect(await message(pending), 'a live message stays').to.not.equal(null);
      // A send to someone who blocked the sender looks pending until it expires, and is kept as long after as any other.
      expect(await message(toBlocker)).to.not.equal(null);
      expect(await sent())
        .to.include(m3.id)
        .and.not.include(m1.id);
      await prune(m3.image.expiresAt.getTime() + window + 60_000);
      expect(await message(toBlocker)).to.equal(null);
      expect(await db().getRepository(Image).findOneBy({ id: m3.imageId })).to.equal(null);
    });
  },
  { ENCRYPTION_KEY: MASTER.toString('base64'), BACKGROUND_JOBS: 'false' },
);
