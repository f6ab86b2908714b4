import { multipartBody } from '../test/support/client';
import { postJson, request } from './http';

/**
 * Every call the bench makes to Glimpse's API lives here. `register` is the one place that
 * knows how an account is made: when registering needs a verification code, switch these two
 * functions to a number from SMS_TEST_NUMBERS and its fixed code.
 */

export const REGISTER_QUERY = 'mutation($input: RegisterInput!) { register(input: $input) { uid ukey phoneHash } }';

/** The JSON body of a register call for the n-th bench phone (+86 139…, unique per run prefix). */
export function registerBody(prefix: number, n: number): string {
  const phoneNum = `139${String((prefix * 1_000_000 + n) % 100_000_000).padStart(8, '0')}`;
  return JSON.stringify({
    query: REGISTER_QUERY,
    variables: { input: { cid: `bench-${prefix}-${n}`, regionNum: '86', phoneNum, nickname: `bench ${n}` } },
  });
}

export interface BenchUser {
  uid: number;
  phoneHash: string;
  token: string;
}

export async function register(baseUrl: string, prefix: number, n: number): Promise<BenchUser> {
  const res = await postJson<{ data?: { register: { uid: number; ukey: string; phoneHash: string } }; errors?: unknown }>(
    `${baseUrl}/graphql`,
    JSON.parse(registerBody(prefix, n)),
  );
  if (!res.data) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
  const r = res.data.register;
  return { uid: r.uid, phoneHash: r.phoneHash, token: `${r.phoneHash}.${r.ukey}` };
}

export async function gql<T>(baseUrl: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await postJson<{ data?: T; errors?: unknown }>(`${baseUrl}/graphql`, { query, variables }, { authorization: `Bearer ${token}` });
  if (!res.data || res.errors) throw new Error(`GraphQL call failed: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** A prebuilt sendImage request: the client spends no CPU building bodies while it is timed. */
export interface PreparedUpload {
  body: Buffer;
  headers: Record<string, string>;
}

export function prepareSendImage(token: string, receiverUid: number, image: Buffer, declareSize = true): PreparedUpload {
  const { body, contentType } = multipartBody({
    query: 'mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { messageKey size } }',
    variables: { r: receiverUid, size: declareSize ? image.length : null },
    file: image,
  });
  return {
    body,
    headers: { 'content-type': contentType, 'apollo-require-preflight': 'true', authorization: `Bearer ${token}` },
  };
}

export async function sendImage(baseUrl: string, upload: PreparedUpload, expectedSize: number): Promise<string> {
  const res = await request(`${baseUrl}/graphql`, 'POST', upload.headers, upload.body);
  const text = res.body.toString('utf8');
  let parsed: { data?: { sendImage?: { messageKey: string; size: number } } } = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    /* reported below */
  }
  const sent = parsed.data?.sendImage;
  if (res.status !== 200 || !sent || sent.size !== expectedSize) throw new Error(`sendImage answered ${res.status}: ${text.slice(0, 300)}`);
  return sent.messageKey;
}

export async function downloadUrlOf(baseUrl: string, token: string, messageKey: string): Promise<string> {
  const data = await gql<{ image: { downloadUrl: string | null } }>(
    baseUrl,
    token,
    'query($k: String!) { image(messageKey: $k) { downloadUrl } }',
    { k: messageKey },
  );
  if (!data.image.downloadUrl) throw new Error('no downloadUrl');
  return data.image.downloadUrl;
}

export const IMAGES_QUERY = '{ images { messageKey sender { nickname } filetype size downloadUrl } }';
export const ME_QUERY = '{ me { uid nickname phoneHash } }';
