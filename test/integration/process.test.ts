import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ApiClient, httpGet } from '../support/client';
import { phoneHashOf } from '../../src/services/phone';
import { jpegBytes, nextPhone, registerUser, REQUEST_CODE } from '../support/factories';
import { createTestDatabase, MYSQL_BASE_URL } from '../support/mysql';
import { bareEnv, ServerProcess, spawnServer } from '../support/process';
import { needsMysql } from '../support/services';
import { freePort } from '../support/stack';
import { startTcpProxy, TcpProxy } from '../support/tcp-proxy';
import { eventually } from '../support/wait';

/** The built server run as `npm start` runs it: a child process, its environment given whole. */
describe('the built server as a process', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const running: ServerProcess[] = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-proc-'));
    dirs.push(d);
    return d;
  };
  const start = (env: Record<string, string>, cwd: string) => {
    const p = spawnServer(env, cwd);
    running.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('with nothing configured serves the core path on SQLite and local disk under ./data', async () => {
    const cwd = tempDir();
    const env = bareEnv(cwd);
    // The default port is shared by everything on this machine (another checkout's tests, a
    // developer's `npm start`): wait for it a little, and only then name another.
    if (!(await eventuallyFree(4000, 15_000))) {
      env.PORT = String(await freePort());
      console.warn(`      (127.0.0.1:4000 is taken by another process: this run set PORT=${env.PORT} and nothing else)`);
    }
    const server = start(env, cwd);
    const { url, line } = await server.listening;
    expect(url).to.equal(`http://127.0.0.1:${env.PORT ?? 4000}`);
    // It says where it listens and which parts it uses.
    expect(line).to.include({
      database: `SQLite ${path.join(cwd, 'data', 'glimpse.sqlite')}`,
      blobs: `local disk ${path.join(cwd, 'data', 'blobs')}`,
      push: 'log',
      env: 'development',
    });

    const api = new ApiClient(url);
    // SMS_PROVIDER=log: the code is in the server's log beside the masked number, as a developer reads it.
    const register = async () => {
      const phone = nextPhone();
      const lines = () =>
        server
          .stdout()
          .split('\n')
          .filter((l) => l.startsWith('{'));
      const seen = lines().length;
      const asked = await api.gql(REQUEST_CODE, { r: phone.regionNum, p: phone.phoneNum });
      expect(asked.errors).to.equal(undefined);
      const masked = `+86*********${phone.phoneNum.slice(-2)}`;
      // The code line for the masked number written since the request: codes are asked for one at a time here.
      const codeInLog = () =>
        lines()
          .slice(seen)
          .map((l) => JSON.parse(l) as { to?: string; smsCode?: string })
          .filter((l) => l.to === masked && l.smsCode)
          .at(-1)?.smsCode;
      // The log line may reach the pipe a moment after the answer.
      await eventually(() => expect(codeInLog()).to.be.a('string'));
      expect(server.stdout()).not.to.contain(phone.phoneNum);
      expect(server.stdout()).not.to.contain(phoneHashOf(phone.regionNum, phone.phoneNum));
      return registerUser(api, { ...phone, verificationCode: codeInLog() });
    };
    const [alice, bob] = [await register(), await register()];
    const bytes = jpegBytes(150_000);
    const sent = await api.sendImage(alice.token, bob.uid, bytes);
    const key = sent.data!.sendImage.messageKey;
    const image = await api.gql('query($k: String!) { image(messageKey: $k) { exist size downloadUrl } }', { k: key }, bob.token);
    expect(image.data!.image).to.include({ exist: true, size: bytes.length });
    const download = await httpGet(image.data!.image.downloadUrl);
    expect(download.status).to.equal(200);
    expect(download.body.equals(bytes)).to.equal(true);
    const confirmed = await api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: key }, bob.token);
    expect(confirmed.data!.confirmDownload.exist).to.equal(false);
    expect((await httpGet(image.data!.image.downloadUrl)).status).to.equal(404);

    expect((await httpGet(`${url}/healthz`)).status).to.equal(200);
    expect(JSON.parse((await httpGet(`${url}/readyz`)).body.toString())).to.deep.include({ status: 'ready' });
    expect(fs.existsSync(path.join(cwd, 'data', 'glimpse.sqlite'))).to.equal(true);
    // The zero-setup start made the master key for encryption at rest in DATA_DIR, and said so.
    expect(Buffer.from(fs.readFileSync(path.join(cwd, 'data', 'encryption.key'), 'utf8').trim(), 'base64')).to.have.length(32);
    expect(server.stdout()).to.contain('ENCRYPTION_KEY is not set: generated a master key in DATA_DIR');
    expect(await server.stop()).to.equal(0);
  });

  for (const [name, value] of [
    ['MAX_IMAGE_BYTES', 'abc'],
    ['DATABASE_URL', 'postgres://u:secret@db/glimpse'],
    ['DATABASE_URL', 'mysql://127.0.0.1:3306/'],
  ] as const) {
    it(`stops at start-up when ${name}=${value}, naming the variable`, async () => {
      const cwd = tempDir();
      const server = start({ ...bareEnv(cwd), [name]: value }, cwd);
      expect(await server.exited).to.equal(2);
      expect(server.stderr()).to.contain(`${name}:`);
      expect(server.stderr()).not.to.contain('secret');
      expect(fs.existsSync(path.join(cwd, 'data'))).to.equal(false);
    });
  }

  it('names every bad variable in one message', async () => {
    const cwd = tempDir();
    const server = start({ ...bareEnv(cwd), MAX_IMAGE_BYTES: 'abc', DATABASE_URL: 'nonsense', PORT: '-1', INTROSPECTION: 'maybe' }, cwd);
    expect(await server.exited).to.equal(2);
    const message = server.stderr();
    for (const name of ['MAX_IMAGE_BYTES', 'DATABASE_URL', 'PORT', 'INTROSPECTION']) expect(message).to.contain(`${name}:`);
    expect(message.match(/Invalid configuration/g)).to.have.length(1);
  });

  it('stops at start-up when DATABASE_URL points at no database, naming the variable', async () => {
    const cwd = tempDir();
    const nobody = await freePort();
    const server = start({ ...bareEnv(cwd), DATABASE_URL: `mysql://root:pw@127.0.0.1:${nobody}/glimpse` }, cwd);
    expect(await server.exited).to.equal(1);
    expect(server.stderr()).to.contain(`DATABASE_URL=mysql://root:***@127.0.0.1:${nobody}/glimpse`);
    expect(server.stderr()).not.to.contain(':pw@');
  });

  describe('/readyz with MySQL behind a proxy that a test can cut', () => {
    let proxy: TcpProxy;
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let url: string;
    let server: ServerProcess;

    before(async function () {
      needsMysql(this);
      db = await createTestDatabase();
      const target = new URL(MYSQL_BASE_URL);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 3306) });
    });
    after(async () => {
      await proxy?.stop();
      await db?.drop();
    });
    // Every start here shares one database from a fresh folder: like instances, they share a master key.
    const encryptionKey = randomBytes(32).toString('base64');
    beforeEach(async () => {
      const cwd = tempDir();
      server = start(
        { ...bareEnv(cwd), PORT: String(await freePort()), DATABASE_URL: proxy.via(db.url), ENCRYPTION_KEY: encryptionKey },
        cwd,
      );
      url = (await server.listening).url;
    });
    afterEach(() => proxy.restore());

    const readyz = async () => {
      const r = await httpGet(`${url}/readyz`);
      return {
        status: r.status,
        body: JSON.parse(r.body.toString()) as { status: string; failing: string[]; checks: Record<string, string> },
      };
    };

    it('answers 503 naming the database while the database is unreachable, and 200 once it is back', async () => {
      expect((await readyz()).status).to.equal(200);
      proxy.cut('reset');
      const down = await readyz();
      expect(down.status).to.equal(503);
      expect(down.body).to.deep.equal({ status: 'unavailable', checks: { database: 'failing', blobStore: 'ok' }, failing: ['database'] });
      // Liveness is not readiness: the process itself is fine.
      expect((await httpGet(`${url}/healthz`)).status).to.equal(200);
      proxy.restore();
      await eventually(async () => expect((await readyz()).status).to.equal(200), 10_000, 100);
      // And it still shuts down cleanly on SIGTERM.
      expect(await server.stop()).to.equal(0);
    });

    it('answers 503 when the database stops answering without closing anything (a dead network)', async () => {
      expect((await readyz()).status).to.equal(200);
      proxy.cut('blackhole');
      const down = await readyz();
      expect(down.status).to.equal(503);
      expect(down.body.failing).to.deep.equal(['database']);
      proxy.restore();
      await eventually(async () => expect((await readyz()).status).to.equal(200), 10_000, 100);
    });
  });
});

/** Whether 127.0.0.1:port can be bound, waiting up to `ms` for it to be released. */
async function eventuallyFree(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free || Date.now() > deadline) return free;
    await new Promise((r) => setTimeout(r, 250));
  }
}
