import { expect } from 'chai';
import { httpGet } from '../support/client';
import { describeEachStack, STACKS, startStack, TestStack } from '../support/stack';
import { eventually } from '../support/wait';

async function readyz(base: string) {
  const r = await httpGet(`${base}/readyz`);
  return { status: r.status, cache: r.headers['cache-control'], body: JSON.parse(r.body.toString()) };
}

describeEachStack('/healthz and /readyz', (stack) => {
  it('/healthz answers 200 while the process is up', async () => {
    const r = await httpGet(`${stack().url}/healthz`);
    expect(r.status).to.equal(200);
    expect(JSON.parse(r.body.toString())).to.deep.equal({ status: 'ok' });
  });

  it('/readyz answers 200 when the database and the blob store answer', async () => {
    const r = await readyz(stack().url);
    expect(r.status).to.equal(200);
    expect(r.cache).to.equal('no-store');
    expect(r.body).to.deep.equal({ status: 'ready', checks: { database: 'ok', blobStore: 'ok' }, failing: [] });
  });
});

// The database outage is tested on the built server behind a TCP proxy (process.test.ts).
describe('/readyz while the S3 server is down [mysql-s3]', function () {
  this.timeout(60_000);
  let stack: TestStack | undefined;
  before(async function () {
    if (!STACKS.includes('mysql-s3')) return this.skip(); // TEST_STACKS leaves out the S3 stack
    if (process.env.S3_ENDPOINT) return this.skip(); // an external S3 server is not ours to stop
    stack = await startStack('mysql-s3');
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers 503 naming the blob store, and 200 once the S3 server is back', async () => {
    expect((await readyz(stack!.url)).status).to.equal(200);
    await stack!.s3!.stop();
    const down = await readyz(stack!.url);
    expect(down.status).to.equal(503);
    expect(down.body).to.deep.equal({ status: 'unavailable', checks: { database: 'ok', blobStore: 'failing' }, failing: ['blobStore'] });
    await stack!.s3!.restart();
    await eventually(async () => expect((await readyz(stack!.url)).status).to.equal(200), 10_000, 100);
  });
});
