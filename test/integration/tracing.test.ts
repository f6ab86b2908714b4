import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ApiClient, httpGet } from '../support/client';
import { jpegBytes, registerUser } from '../support/factories';
import { FakeGetui } from '../support/fake-getui';
import { createTestDatabase } from '../support/mysql';
import { OtlpReceiver, ReceivedSpan } from '../support/otlp-receiver';
import { bareEnv, ServerProcess, spawnServer } from '../support/process';
import { LocalS3, startLocalS3 } from '../support/s3.server';
import { needsMysql } from '../support/services';
import { freePort } from '../support/stack';
import { eventually } from '../support/wait';

const SERVER_SPAN = 2;
const CLIENT_SPAN = 3;

/** The built server as a process (tracing must start before the server's modules load). */
describe('OpenTelemetry tracing (the built server, MySQL and S3)', function () {
  this.timeout(60_000);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let s3: LocalS3;
  let fake: FakeGetui;
  let receiver: OtlpReceiver;
  let cwd: string;
  const running: ServerProcess[] = [];

  before(async function () {
    needsMysql(this);
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-tracing-'));
    [db, s3, fake, receiver] = await Promise.all([
      createTestDatabase(),
      startLocalS3(),
      new FakeGetui().start(),
      new OtlpReceiver().start(),
    ]);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });
  after(async () => {
    await Promise.all([db?.drop(), s3?.stop(), fake?.stop(), receiver?.stop()]);
    if (s3) fs.rmSync(s3.directory, { recursive: true, force: true });
    if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string>) => {
    const server = spawnServer(
      {
        ...bareEnv(cwd),
        PORT: String(await freePort()),
        DATA_DIR: path.join(cwd, 'data'),
        DATABASE_URL: db.url,
        S3_ENDPOINT: s3.endpoint,
        S3_ACCESS_KEY: s3.accessKey,
        S3_SECRET_KEY: s3.secretKey,
        ...fake.env(),
        PUSH_POLL_MS: '50',
        SMS_TEST_NUMBERS: '+8613800000001=123456,+8613800000002=123456',
        ...env,
      },
      cwd,
    );
    running.push(server);
    return { server, url: (await server.listening).url };
  };
  const register = (api: ApiClient, phoneNum: string) => registerUser(api, { regionNum: '86', phoneNum, verificationCode: '123456' });

  it('sends a span per operation, with its database and S3 calls under it, and the GeTui calls, to OTLP/HTTP', async () => {
    const { server, url } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'glimpse-under-test' });
    const api = new ApiClient(url);
    const [alice, bob] = [await register(api, '13800000001'), await register(api, '13800000002')];
    const sent = await api.upload<{ sendImage: { messageKey: string } }>({
      token: alice.token,
      query:
        'mutation SendIt($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { messageKey } }',
      variables: { r: bob.uid, size: 4000 },
      file: jpegBytes(4000),
    });
    expect(sent.errors).to.equal(undefined);
    await eventually(() => expect(fake.pushes.some((p) => p.cid === bob.cid)).to.equal(true), 15_000);
    expect((await httpGet(`${url}/healthz`)).status).to.equal(200);
    // Stopping sends what is still buffered.
    expect(await server.stop()).to.equal(0);

    expect(receiver.contentTypes[0]).to.match(/^application\/json/);
    const spans = receiver.spans;
    expect(new Set(spans.map((s) => s.service))).to.deep.equal(new Set(['glimpse-under-test']));
    const operation = spans.find((s) => s.name === 'mutation SendIt');
    expect(operation, spans.map((s) => s.name).join(', ')).to.not.equal(undefined);
    expect(operation!.attributes['graphql.operation.name']).to.equal('SendIt');
    // Under the HTTP request that carried it.
    const request = spans.find((s) => s.spanId === operation!.parentSpanId)!;
    expect(request.kind).to.equal(SERVER_SPAN);
    expect(request.attributes['http.route'] ?? request.attributes['url.path'] ?? request.attributes['http.target']).to.match(/graphql/);

    const under = receiver.descendants(operation!);
    const database = under.filter(
      (s: ReceivedSpan) => s.kind === CLIENT_SPAN && (s.attributes['db.system'] === 'mysql' || s.attributes['db.system.name'] === 'mysql'),
    );
    expect(database.length, under.map((s) => s.name).join(', ')).to.be.greaterThan(0);
    // Statements are masked: no value of the send is in them.
    for (const s of database) expect(JSON.stringify(s.attributes)).to.not.contain(bob.phoneHash);
    const s3Port = Number(new URL(s3.endpoint).port);
    const store = under.filter(
      (s) => s.kind === CLIENT_SPAN && Number(s.attributes['server.port'] ?? s.attributes['net.peer.port']) === s3Port,
    );
    expect(store.map((s) => s.attributes['http.request.method'] ?? s.attributes['http.method'])).to.include('PUT');

    // GeTui is called by the push dispatcher, outside any request: its calls are traces of their own.
    const getuiPort = Number(new URL(fake.url).port);
    const getui = spans.filter((s) => s.kind === CLIENT_SPAN && Number(s.attributes['server.port']) === getuiPort);
    expect(getui.length, spans.map((s) => `${s.name} ${JSON.stringify(s.attributes)}`).join('\n')).to.be.greaterThan(0);
    // The exporter's own requests are not traced (each export would make spans to export).
    const receiverPort = Number(new URL(receiver.url).port);
    expect(spans.filter((s) => Number(s.attributes['server.port']) === receiverPort)).to.deep.equal([]);
    // Probes are not traced.
    expect(spans.some((s) => JSON.stringify(s.attributes).includes('/healthz'))).to.equal(false);
  });

  it('loads no OpenTelemetry module at all when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    const probe = path.join(cwd, 'probe.js');
    const report = path.join(cwd, 'loaded.json');
    fs.writeFileSync(
      probe,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('@opentelemetry')))));\n`,
    );
    const { server, url } = await start({ NODE_OPTIONS: `--require ${probe}` });
    const api = new ApiClient(url);
    const alice = await register(api, '13800000001');
    expect((await api.gql('{ me { uid } }', {}, alice.token)).errors).to.equal(undefined);
    expect(await server.stop()).to.equal(0);
    expect(JSON.parse(fs.readFileSync(report, 'utf8'))).to.deep.equal([]);
  });
});
