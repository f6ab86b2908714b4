import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IsNull, Not } from 'typeorm';
import { Image } from '../../src/entities/image.entity';
import { ServerSecret } from '../../src/entities/server-secret.entity';
import { createLogger } from '../../src/logger';
import { loadMasterKeys } from '../../src/master-key';
import { TypeormImageRepository } from '../../src/repositories/image.typeorm-repository';
import { TypeormSecretRepository } from '../../src/repositories/secret.typeorm-repository';
import { RunningServer, startServer } from '../../src/server';
import { KeyWrapper, masterKeyId } from '../../src/services/cipher/key-wrapper';
import { RewrapService } from '../../src/services/rewrap.service';
import { ApiClient, httpGet } from '../support/client';
import { jpegBytes, TestUser } from '../support/factories';
import { aliceAndBob } from '../support/fixtures';
import { useSeed } from '../support/seed';
import { describeEachStack, freePort, TestStack } from '../support/stack';

const REWRAP_JS = path.resolve(__dirname, '../../src/rewrap.js');
const [K0, K1, K2] = [randomBytes(32), randomBytes(32), randomBytes(32)];

describe('master key files (ENCRYPTION_KEY_FILE)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-keyfile-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const base = { encryptionKey: null, encryptionKeyPrevious: null, dataDir: dir };

  it('reads the key from the file (a trailing newline allowed) and names the file, never its content, when it is wrong', async () => {
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, `${K0.toString('base64')}\n`);
    const keys = await loadMasterKeys({ ...base, encryptionKeyFile: file }, null, { create: false });
    expect(keys.current.equals(K0)).to.equal(true);
    expect(keys.source).to.equal(`ENCRYPTION_KEY_FILE=${file}`);
    fs.writeFileSync(file, 'not a key at all\n');
    await loadMasterKeys({ ...base, encryptionKeyFile: file }, null, { create: false }).then(
      () => expect.fail('read a bad key'),
      (e: Error) => expect(e.message).to.contain(`ENCRYPTION_KEY_FILE=${file}`).and.not.contain('not a key'),
    );
    await loadMasterKeys({ ...base, encryptionKeyFile: path.join(dir, 'missing') }, null, { create: false }).then(
      () => expect.fail('read a missing file'),
      (e: Error) => expect(e.message).to.contain('ENCRYPTION_KEY_FILE').and.contain('ENOENT'),
    );
    // Without a key set, only a process allowed to create one (the server, in development) makes one.
    await loadMasterKeys({ ...base, encryptionKeyFile: null }, null, { create: false }).then(
      () => expect.fail('made a key'),
      (e: Error) => expect(e.message).to.contain('no master key'),
    );
  });
});

describeEachStack(
  'master key rotation',
  (stack: () => TestStack) => {
    let api: ApiClient;
    let alice: TestUser;
    let bob: TestUser;
    const db = () => stack().server.container.db;
    /** Every image sent so far, to check at the end that none was lost. */
    const sent: { key: string; bytes: Buffer }[] = [];
    const seeded = useSeed();

    before(async () => ({ api, alice, bob } = await aliceAndBob(stack())));

    const urlVia = async (base: string, key: string) =>
      (await new ApiClient(base).gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: key }, bob.token)).data?.image
        ?.downloadUrl as string;
    const underKey = (keyId: string) =>
      db()
        .getRepository(Image)
        .countBy({ keyId, wrappedKey: Not(IsNull()) });
    const liveKeys = () =>
      db()
        .getRepository(Image)
        .countBy({ wrappedKey: Not(IsNull()) });
    async function expectEveryImageReadable() {
      for (const s of sent) {
        const got = await httpGet(await urlVia(stack().url, s.key));
        expect(got.status, s.key).to.equal(200);
        expect(got.body.equals(s.bytes), s.key).to.equal(true);
      }
    }
    /** Restarts the stack's server with these master keys. */
    async function restartWith(current: Buffer, previous: Buffer | null) {
      await stack().server.stop();
      Object.assign(stack().config, { encryptionKey: current, encryptionKeyPrevious: previous });
      await stack().restart();
    }

    it('a rotation while sends and downloads run on two instances (one on SQLite) loses no image and leaves every live key under the new master key', async function () {
      this.timeout(120_000);
      // The image sizes are drawn from the run's seed (printed before the suite).
      const random = seeded().next;

      // A second instance on the same database and store. SQLite serves one instance (its
      // connections in one process would wait on each other's locks): there the one instance is
      // restarted alone while the traffic runs.
      const log = createLogger('silent');
      const bPort = await freePort();
      const bConfig = { ...stack().config, port: bPort, publicUrl: `http://127.0.0.1:${bPort}` };
      const two = stack().kind === 'mysql-s3';
      let b: RunningServer | null = two ? await startServer(bConfig, log) : null;
      const restartB = async (current: Buffer, previous: Buffer | null) => {
        if (!b) return;
        await b.stop();
        Object.assign(bConfig, { encryptionKey: current, encryptionKeyPrevious: previous });
        b = await startServer(bConfig, log);
      };
      const urls = two ? [stack().url, `http://127.0.0.1:${bPort}`] : [stack().url, stack().url];

      // Sends and downloads across the two instances, each image read through the other one.
      // A connection refused or cut (an instance restarting) is tried again later; anything
      // else is a failure.
      const failures: string[] = [];
      let running = true;
      let operations = 0;
      const down = (e: unknown) =>
        /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|other side closed/.test(
          String((e as Error)?.message ?? e) + String((e as { cause?: unknown })?.cause ?? ''),
        );
      const traffic = async (offset: number) => {
        for (let i = offset; running; i++) {
          const [via, readVia] = [urls[i % 2], urls[(i + 1) % 2]];
          try {
            const bytes = jpegBytes(2_000 + Math.floor(random() * 300_000));
            const res = await new ApiClient(via).sendImage(alice.token, bob.uid, bytes);
            if (res.errors) {
              failures.push(`send via ${via}: ${JSON.stringify(res.errors)}`);
              continue;
            }
            sent.push({ key: res.data!.sendImage.messageKey, bytes });
            const got = await httpGet(await urlVia(readVia, res.data!.sendImage.messageKey));
            if (got.status !== 200 || !got.body.equals(bytes))
              failures.push(`download via ${readVia}: ${got.status} ${got.body.subarray(0, 200).toString()}`);
            operations++;
          } catch (e) {
            if (!down(e)) failures.push(`${via}: ${String(e)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const loops = [traffic(0), traffic(1)];
      try {
        const settle = () => new Promise((r) => setTimeout(r, 300));
        await settle();
        // Every instance first learns the new key (it unwraps), then every instance wraps with
        // it: at no moment does an instance meet a key it cannot open.
        await restartWith(K0, K1);
        await restartB(K0, K1);
        await settle();
        await restartWith(K1, K0);
        await restartB(K1, K0);
        await settle();
        const keys = new KeyWrapper(K1, K0);
        const report = await new RewrapService(new TypeormImageRepository(db()), new TypeormSecretRepository(db()), keys).run({
          batchSize: 3,
        });
        await settle();
        running = false;
        await Promise.all(loops);
        expect(failures).to.deep.equal([]);
        expect(operations).to.be.greaterThan(4);
        expect(report.left).to.equal(0);
        expect(report.images).to.be.greaterThan(0);
      } finally {
        running = false;
        await Promise.all(loops);
        await b?.stop();
      }

      const k1 = masterKeyId(K1);
      expect(await underKey(k1)).to.equal(await liveKeys());
      for (const s of await db().getRepository(ServerSecret).find()) expect(s.keyId, s.name).to.equal(k1);
      // Nothing is left under the old key: it can go, and a server with it alone no longer starts.
      await restartWith(K1, null);
      await expectEveryImageReadable();
      await restartWith(K0, null).then(
        () => expect.fail('started with the old key alone'),
        (e: Error) => expect(e.message).to.match(/ENCRYPTION_KEY is not the key this database's images were encrypted with/),
      );
      stack().config.encryptionKey = K1;
      await stack().restart();
    });

    it('`npm run rewrap` stopped after some batches, or killed, finishes when run again, and says when the previous key can go', async function () {
      this.timeout(120_000);
      for (let i = 0; i < 60; i++) {
        const bytes = jpegBytes(1_000 + i);
        const res = await api.sendImage(alice.token, bob.uid, bytes);
        sent.push({ key: res.data!.sendImage.messageKey, bytes });
      }
      await restartWith(K2, K1);
      const [k1, k2] = [masterKeyId(K1), masterKeyId(K2)];
      const before = await underKey(k1);
      expect(before).to.be.at.least(60);

      const database = stack().config.database;
      const env = {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: database.kind === 'mysql' ? database.url : `sqlite:${database.file}`,
        DATA_DIR: stack().config.dataDir,
        ENCRYPTION_KEY: K2.toString('base64'),
        ENCRYPTION_KEY_PREVIOUS: K1.toString('base64'),
        LOG_LEVEL: 'silent',
      };
      const rewrap = (args: string[], onLine?: (line: string, kill: () => void) => void) => {
        const child = spawn(process.execPath, [REWRAP_JS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          onLine?.(c, () => child.kill('SIGKILL'));
        });
        child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
        return new Promise<{ code: number | null; out: string }>((resolve) => child.once('exit', (code) => resolve({ code, out })));
      };

      // In slices: two batches of two, then it stops and says what is left.
      const sliced = await rewrap(['--batch-size', '2', '--max-batches', '2']);
      expect(sliced.code, sliced.out).to.equal(3);
      expect(sliced.out).to.contain('run `npm run rewrap` again');
      expect(await underKey(k1)).to.equal(before - 4);

      // Killed in the middle of its work (one key a batch): what it committed stays.
      const killed = await rewrap(['--batch-size', '1'], (line, kill) => {
        if (line.includes('re-wrapped so far')) kill();
      });
      // One key a batch takes long enough that the kill lands first; should the run win the
      // race, it ended with its work done, which the checks below accept as well.
      expect(killed.code, killed.out).to.be.oneOf([null, 0]);
      const left = await underKey(k1);
      console.log(`      (killed with ${left} of ${before} keys still under the previous master key)`);
      expect(left).to.be.below(before - 4);

      const finished = await rewrap([]);
      expect(finished.code, finished.out).to.equal(0);
      expect(finished.out).to.contain('ENCRYPTION_KEY_PREVIOUS can be removed');
      expect(await underKey(k1)).to.equal(0);
      expect(await underKey(k2)).to.equal(await liveKeys());
      await restartWith(K2, null);
      api = new ApiClient(stack().url);
      await expectEveryImageReadable();
    });
  },
  { ENCRYPTION_KEY: K0.toString('base64'), BACKGROUND_JOBS: 'false' },
);
