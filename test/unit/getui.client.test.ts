import { expect } from 'chai';
import { GetuiClient, GetuiClientOptions, normaliseBase } from '../../src/adapters/getui.client';
import type { PushMessage } from '../../src/adapters/push-provider';
import { FakeGetui } from '../support/fake-getui';
import { freePort } from '../support/stack';

describe('GetuiClient (against the fake GeTui server)', () => {
  let fake: FakeGetui;
  let seq = 0;

  const client = (over: Partial<GetuiClientOptions> = {}) =>
    new GetuiClient({
      appId: fake.appId,
      appKey: fake.appKey,
      masterSecret: fake.masterSecret,
      baseUrl: fake.url,
      timeoutMs: 2000,
      ...over,
    });
  const push = (over: Partial<PushMessage> = {}): PushMessage => ({
    requestId: `req${Date.now()}${String(++seq).padStart(6, '0')}`,
    cid: 'cid0000000000000000000000000001',
    payload: JSON.stringify({ message_id: seq }),
    ttlMs: 3_600_000,
    alert: { title: 'Glimpse', body: 'You have a new image' },
    kind: 'image',
    jobId: seq,
    receiverUid: 7,
    ...over,
  });

  beforeEach(async () => {
    fake = await new FakeGetui().start();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('signs /auth as the reference says, then pushes one cid with the token header and the reference body', async () => {
    const m = push();
    expect(await client().send(m)).to.deep.equal({ outcome: 'sent', detail: 'successed_offline' });
    expect(fake.violations).to.deep.equal([]);
    expect(fake.authCalls).to.equal(1);
    const [got] = fake.pushes;
    expect(got.requestId).to.equal(m.requestId);
    expect(got.body.audience).to.deep.equal({ cid: [m.cid] });
    expect(got.body.push_message).to.deep.equal({ transmission: m.payload });
    expect(got.body.settings.ttl).to.equal(3_600_000);
    expect(got.body.push_channel.ios).to.deep.include({ type: 'notify', payload: m.payload, 'apns-collapse-id': m.requestId });
    expect(got.body.push_channel.ios.aps.alert).to.deep.equal(m.alert);
    expect(JSON.stringify(got.body)).not.to.contain('null');
  });

  it('fetches one token for many pushes, also when they start at once', async () => {
    const c = client();
    const results = await Promise.all(Array.from({ length: 20 }, () => c.send(push())));
    for (let i = 0; i < 5; i++) results.push(await c.send(push()));
    expect(results.every((r) => r.outcome === 'sent')).to.equal(true);
    expect(fake.pushes).to.have.length(25);
    expect(fake.authCalls).to.equal(1);
  });

  it('replaces a token with less than an hour left before using it', async () => {
    fake.tokenTtlMs = 59 * 60_000;
    const c = client();
    for (let i = 0; i < 3; i++) expect((await c.send(push())).outcome).to.equal('sent');
    expect(fake.authCalls).to.equal(3);
    expect(fake.violations).to.deep.equal([]);
  });

  it('answers 10001 with one re-auth and one retry, which succeeds', async () => {
    const c = client();
    await c.send(push());
    fake.answer10001Once();
    const m = push();
    expect((await c.send(m)).outcome).to.equal('sent');
    expect(fake.authCalls).to.equal(2);
    expect(fake.pushes.map((p) => p.requestId)).to.include(m.requestId);
    expect(fake.violations).to.deep.equal([]);
  });

  it('re-authenticates only once when GeTui keeps refusing the token, and retries later', async () => {
    fake.script(401, { code: 10001, msg: 'token expired' });
    fake.script(401, { code: 10001, msg: 'token expired' });
    const r = await client().send(push());
    expect(r).to.deep.include({ outcome: 'retry' });
    expect(fake.authCalls).to.equal(2);
  });

  it('classifies replies as the reference says: retry later, give up, or wait out a rate limit', async () => {
    const c = client();
    const cases: [number, string | Record<string, unknown>, string, RegExp][] = [
      [400, { code: 20001, msg: 'target user is invalid' }, 'give-up', /target user is invalid/],
      [401, { code: 10002, msg: 'appId or ip in blacklist' }, 'give-up', /10002/],
      [403, { code: 30009, msg: 'daily push total exceeded' }, 'give-up', /quota/],
      [200, { code: 2, msg: 'service starting' }, 'retry', /GeTui 2/],
      [403, { code: 30019, msg: 'system busy' }, 'retry', /30019/],
      [401, { code: 10005, msg: 'frequency limit' }, 'retry', /10005/],
      [200, 'not json at all', 'retry', /unreadable/],
      [502, 'bad gateway', 'retry', /HTTP 502/],
    ];
    for (const [status, body, outcome, reason] of cases) {
      fake.script(status, body);
      const r = await c.send(push());
      expect(r.outcome, JSON.stringify(body)).to.equal(outcome);
      expect((r as { reason: string }).reason).to.match(reason);
      if (typeof body === 'object' && body.code === 10005) expect(r).to.have.property('retryAfterMs', 60_000);
    }
    fake.rejectCid('gone-device-cid-01');
    expect(await c.send(push({ cid: 'gone-device-cid-01' }))).to.deep.equal({
      outcome: 'give-up',
      reason: 'GeTui 20001 target user is invalid',
    });
    fake.down(1);
    expect(await c.send(push())).to.deep.equal({ outcome: 'retry', reason: 'HTTP 503' });
  });

  it('gives up on a push past its timeout, and retries later', async () => {
    const c = client({ timeoutMs: 300 });
    await c.send(push());
    fake.hang();
    const r = await c.send(push());
    expect(r).to.deep.equal({ outcome: 'retry', reason: 'no answer within 300 ms' });
  });

  it('retries later when GeTui cannot be reached, or its auth fails', async () => {
    const down = client({ baseUrl: `http://127.0.0.1:${await freePort()}/v2` });
    expect(await down.send(push())).to.deep.include({ outcome: 'retry', reason: 'auth: network error: ECONNREFUSED' });
    const badSecret = client({ masterSecret: 'not-the-secret' });
    expect(await badSecret.send(push())).to.deep.equal({ outcome: 'retry', reason: 'auth: GeTui 20001 sign is invalid' });
    const badApp = client({ appId: 'someOtherApp' });
    expect((await badApp.send(push())) as { reason: string })
      .to.have.property('reason')
      .that.matches(/auth: HTTP 404/);
    expect(fake.pushes).to.have.length(0);
  });

  it('switches host on 301 and stays there', async () => {
    const other = await new FakeGetui({ appId: fake.appId, appKey: fake.appKey, masterSecret: fake.masterSecret }).start();
    try {
      fake.redirectTo(other.url);
      const c = client();
      expect((await c.send(push())).outcome).to.equal('sent');
      expect((await c.send(push())).outcome).to.equal('sent');
      expect(other.pushes).to.have.length(2);
      expect(other.authCalls).to.equal(1);
      expect(fake.pushes).to.have.length(0);
      expect(c.description).to.equal(`getui ${other.url}`);
    } finally {
      await other.stop();
    }
  });

  it('refuses a request_id outside 10 to 32 characters without calling GeTui', async () => {
    expect(await client().send(push({ requestId: 'short' }))).to.have.property('outcome', 'give-up');
    expect(fake.pushRequests).to.equal(0);
  });

  it('caps the ttl at 3 days', async () => {
    await client().send(push({ ttlMs: 7 * 24 * 3600_000 }));
    expect(fake.pushes[0].body.settings.ttl).to.equal(259_200_000);
  });

  it('builds the base URL as the official SDKs do', () => {
    expect(normaliseBase('https://restapi.getui.com/v2/')).to.equal('https://restapi.getui.com/v2');
    expect(normaliseBase('https://restapi.getui.com')).to.equal('https://restapi.getui.com/v2');
    expect(normaliseBase('cncrestapi.getui.com')).to.equal('https://cncrestapi.getui.com/v2');
  });
});
