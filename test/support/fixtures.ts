import { expect } from 'chai';
import { ApiClient, SentMessage } from './client';
import { jpegBytes, registerUser, TestUser } from './factories';
import { FakeGetui } from './fake-getui';
import { StackKind, startStack, TestStack } from './stack';

/**
 * The set-ups many suites share, built on the factories: users who know each other, an image
 * on its way. Each helper checks the API said yes, so a broken set-up fails where it happens.
 */

/** `n` registered users, registered at once. */
export function someUsers(api: ApiClient, n: number): Promise<TestUser[]> {
  return Promise.all(Array.from({ length: n }, () => registerUser(api)));
}

/** Two registered users, strangers to each other. */
export async function twoUsers(api: ApiClient): Promise<[TestUser, TestUser]> {
  const [a, b] = await someUsers(api, 2);
  return [a, b];
}

/** A client of the stack and its two users, alice and bob (the usual sender and receiver). */
export async function aliceAndBob(stack: TestStack): Promise<{ api: ApiClient; alice: TestUser; bob: TestUser }> {
  const api = new ApiClient(stack.url);
  const [alice, bob] = await twoUsers(api);
  return { api, alice, bob };
}

export const REQUEST_FRIEND = 'mutation($u: Int!) { requestFriend(uid: $u) { state } }';

/** Makes `a` friends with each of `others`: a asks, the other accepts. */
export async function befriend(api: ApiClient, a: TestUser, ...others: TestUser[]): Promise<void> {
  for (const b of others) {
    const asked = await api.gql(REQUEST_FRIEND, { u: b.uid }, a.token);
    expect(asked.errors, JSON.stringify(asked.errors)).to.equal(undefined);
    const accepted = await api.gql(REQUEST_FRIEND, { u: a.uid }, b.token);
    expect(accepted.errors, JSON.stringify(accepted.errors)).to.equal(undefined);
    expect(accepted.data!.requestFriend.state).to.equal('FRIENDS');
  }
}

/** Two registered users who are friends. */
export async function friendsPair(api: ApiClient): Promise<[TestUser, TestUser]> {
  const [a, b] = await twoUsers(api);
  await befriend(api, a, b);
  return [a, b];
}

/** Sends an image (a small JPEG unless `bytes` is given) one-to-one; the send must succeed. */
export async function sentImage(api: ApiClient, from: TestUser, to: TestUser, bytes: Buffer = jpegBytes(3000)): Promise<SentMessage> {
  const res = await api.sendImage(from.token, to.uid, bytes);
  expect(res.errors, JSON.stringify(res.errors)).to.equal(undefined);
  return res.data!.sendImage;
}

/** The receiver's download URL for a message, as `image(messageKey)` answers it (null once it is gone). */
export async function downloadUrlOf(api: ApiClient, receiver: TestUser, messageKey: string): Promise<string> {
  const res = await api.gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: messageKey }, receiver.token);
  return res.data!.image.downloadUrl as string;
}

/** Short push timings, so that retries in a test take milliseconds. */
export const FAST_PUSH_ENV = { PUSH_POLL_MS: '50', PUSH_RETRY_BASE_MS: '20', PUSH_RETRY_MAX_MS: '200' };

/** A stack whose pushes go to a local fake GeTui. */
export interface PushStack {
  fake: FakeGetui;
  stack: TestStack;
  api: ApiClient;
}

/** Starts a fake GeTui and a stack that pushes to it (FAST_PUSH_ENV and `env` on top). */
export async function startPushStack(kind: StackKind, env: Record<string, string> = {}): Promise<PushStack> {
  const fake = await new FakeGetui().start();
  try {
    const stack = await startStack(kind, { ...fake.env(), ...FAST_PUSH_ENV, ...env });
    return { fake, stack, api: new ApiClient(stack.url) };
  } catch (e) {
    await fake.stop();
    throw e;
  }
}

export async function stopPushStack(s: Partial<PushStack> | undefined): Promise<void> {
  await s?.stack?.stop();
  await s?.fake?.stop();
}
