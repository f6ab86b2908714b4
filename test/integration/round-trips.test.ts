import { expect } from 'chai';
import { ApiClient, httpGet } from '../support/client';
import { countRoundTrips, describeTrips, RoundTrip, RoundTripCounter } from '../support/db-round-trips';
import { jpegBytes, nextPhone, requestCode } from '../support/factories';
import { downloadUrlOf, someUsers, sentImage } from '../support/fixtures';
import { needsMysql, needsRedis, REDIS_URL } from '../support/services';
import { startStack, TestStack } from '../support/stack';
import type { TestUser } from '../support/factories';

/**
 * The hot paths' database round trips, counted (not timed): each is a network exchange with
 * MySQL, and the fixed cost of a small request is mostly these and the work of making them.
 * Production keeps its rate-limit counters in Redis (REDIS_URL), so the stack here does too.
 */
describe('database round trips of the hot paths [mysql-s3]', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let api: ApiClient;
  let counter: RoundTripCounter;
  let alice: TestUser;
  let bob: TestUser;

  before(async function () {
    needsMysql(this);
    needsRedis(this);
    stack = await startStack('mysql-s3', { REDIS_URL, REDIS_KEY_PREFIX: `rt-${process.pid}-${Date.now()}:` });
    api = new ApiClient(stack.url);
    [alice, bob] = await someUsers(api, 2);
    // Warm up: the first request of each kind may prepare statements, and last-seen is written at most once an hour.
    await sentImage(api, alice, bob);
    await api.gql('{ me { uid } }', {}, bob.token);
    // Nothing but the requests below may talk to the database while they are counted.
    const c = stack.server.container;
    await c.dispatcher.stop();
    await c.realtime.stop();
    await c.scheduler.stop();
    counter = await countRoundTrips(c.db);
  });

  after(async () => {
    counter?.stop();
    await stack?.stop();
  });

  const expectAtMost = (trips: RoundTrip[], n: number) =>
    expect(trips.length, `${trips.length} round trips:\n${describeTrips(trips)}`).to.be.at.most(n);

  it('a one-to-one send makes at most 3', async () => {
    const trips = await counter.during(() => sentImage(api, alice, bob, jpegBytes(50_000)));
    expectAtMost(trips, 3);
  });

  it('an authenticated query (me) makes at most 1', async () => {
    const trips = await counter.during(async () => {
      const res = await api.gql('{ me { uid nickname } }', {}, alice.token);
      expect(res.data!.me.uid).to.equal(alice.uid);
    });
    expectAtMost(trips, 1);
  });

  /** Register with a code asked for first (uncounted); the register call alone is counted. */
  const registerTrips = async (phone: { regionNum: string; phoneNum: string }, cid: string) => {
    const verificationCode = await requestCode(api, phone.regionNum, phone.phoneNum);
    return counter.during(async () => {
      const res = await api.gql('mutation($input: RegisterInput!) { register(input: $input) { uid } }', {
        input: { ...phone, cid, nickname: 'trips', verificationCode },
      });
      expect(res.errors).to.equal(undefined);
    });
  };

  // The code's row, the account's row (the registration lock), the code used up, the insert.
  it('registering a new number makes at most 4', async () => {
    expectAtMost(await registerTrips(nextPhone(), 'trips-new'), 4);
  });

  // The code's row, the account's row, the code used up; then the move's transaction: begin, the
  // row locked, the update, the pending messages, the old device's notice, commit.
  it('moving a number to another device makes at most 9', async () => {
    const phone = nextPhone();
    await registerTrips(phone, 'trips-old');
    expectAtMost(await registerTrips(phone, 'trips-moved'), 9);
  });

  it('a download makes at most 2', async () => {
    const sent = await sentImage(api, alice, bob, jpegBytes(50_000));
    const url = await downloadUrlOf(api, bob, sent.messageKey);
    const trips = await counter.during(async () => {
      const res = await httpGet(url);
      expect(res.status).to.equal(200);
      expect(res.body.length).to.equal(50_000);
    });
    expectAtMost(trips, 2);
  });

  it('a ranged download makes at most 3 (the size comes first), and the ranges add up to the image', async () => {
    const bytes = jpegBytes(50_000);
    const sent = await sentImage(api, alice, bob, bytes);
    const url = await downloadUrlOf(api, bob, sent.messageKey);
    const parts: Buffer[] = [];
    for (const range of ['bytes=0-9999', 'bytes=10000-']) {
      const trips = await counter.during(async () => {
        const res = await httpGet(url, { range });
        expect(res.status).to.equal(206);
        parts.push(res.body);
      });
      expectAtMost(trips, 3);
    }
    expect(Buffer.concat(parts).equals(bytes)).to.equal(true);
    expect((await httpGet(url)).status).to.equal(410);
  });

  it('a whole download of a used-up URL is still refused as GONE', async () => {
    const sent = await sentImage(api, alice, bob, jpegBytes(20_000));
    const url = await downloadUrlOf(api, bob, sent.messageKey);
    expect((await httpGet(url)).status).to.equal(200);
    const again = await httpGet(url);
    expect(again.status).to.equal(410);
    expect(JSON.parse(again.body.toString()).errors[0].extensions.code).to.equal('GONE');
  });
});
