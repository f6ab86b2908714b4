import { multipartBody } from '../test/support/client';
import { postJson, request } from './http';

/**
 * Every call the bench makes to Glimpse's API lives here. `register` is the one place that
 * knows how an account is made: with a number from SMS_TEST_NUMBERS and its fixed code, so no
 * SMS is sent and no code request is needed (the server is started with `smsTestNumbersEnv()`).
 */

/** How many test numbers the bench registers with; an environment string holds at most 128 KiB (22 bytes a number). */
export const BENCH_PHONES = 5400;
export const BENCH_CODE = '246810';

/** The first FIXED numbers belong to the users the bench keeps (receiver, viewer, senders). */
const FIXED = 200;
/** The numbers of the `churn` pool; its users' cid starts `bench-churn-`. */
export const CHURN_PHONES = BENCH_PHONES - FIXED;

/**
 * The n-th bench phone of a pool: `fixed` users keep their accounts for the whole run; `churn`
 * numbers are the requests section's, which deletes their users to sign them up again and
 * cycles through them to move accounts.
 */
export function benchPhone(pool: 'fixed' | 'churn', n: number): string {
  const index = pool === 'fixed' ? n % FIXED : FIXED + (n % (BENCH_PHONES - FIXED));
  return `139${String(90_000_000 + index).padStart(8, '0')}`;
}

/** SMS_TEST_NUMBERS for the server the bench starts. */
export function smsTestNumbersEnv(): string {
  return Array.from({ length: BENCH_PHONES }, (_, n) => `+86${139_9000_0000 + n}=${BENCH_CODE}`).join(',');
}

export const REGISTER_QUERY = 'mutation($input: RegisterInput!) { register(input: $input) { uid ukey phoneHash } }';

/** The JSON body of a register call for the n-th phone of a pool (+86 139…). */
export function registerBody(pool: 'fixed' | 'churn', n: number): string {
  const phoneNum = benchPhone(pool, n);
  return JSON.stringify({
    query: REGISTER_QUERY,
    variables: { input: { cid: `bench-${pool}-${n}`, regionNum: '86', phoneNum, nickname: `bench ${n}`, verificationCode: BENCH_CODE } },
  });
}

export interface BenchUser {
  uid: number;
  phoneHash: string;
  token: string;
}

export async function register(baseUrl: string, pool: 'fixed' | 'churn', n: number): Promise<BenchUser> {
  const res = await postJson<{ data?: { register: { uid: number; ukey: string; phoneHash: string } }; errors?: unknown }>(
    `${baseUrl}/graphql`,
    JSON.parse(registerBody(pool, n)),
  );
  if (!res.data) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
  const r = res.data.register;
  return { uid: r.uid, phoneHash: r.phoneHash, token: `${r.phoneHash}.${r.ukey}` };
}

export async function gql<T>(baseUrl: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await postJson<{ data?: T; errors?: unknown }>(
    `${baseUrl}/graphql`,
    { query, variables },
    { authorization: `Bearer ${token}` },
  );
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

/** A new downloadUrl of the message, one the next call will not hand out again. */
export async function downloadUrlOf(baseUrl: string, token: string, messageKey: string): Promise<string> {
  const data = await gql<{ image: { downloadUrl: string | null } }>(
    baseUrl,
    token,
    'query($k: String!) { image(messageKey: $k) { downloadUrl } }',
    { k: messageKey },
  );
  if (!data.image.downloadUrl) throw new Error('no downloadUrl');
  // A listing hands a message's unused URL out again; the benches mint several URLs of one image
  // ahead of their timed downloads, so each is started with its first byte (untimed): the next
  // call then makes a new one.
  const first = await fetch(data.image.downloadUrl, { headers: { range: 'bytes=0-0' } });
  await first.arrayBuffer();
  if (first.status !== 206) throw new Error(`starting a downloadUrl answered ${first.status}`);
  return data.image.downloadUrl;
}

export const IMAGES_QUERY = '{ images { messageKey sender { nickname } filetype size downloadUrl } }';
export const ME_QUERY = '{ me { uid nickname phoneHash } }';
