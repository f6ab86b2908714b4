import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One SendSms call the fake accepted: what a phone would have received. */
export interface SentSms {
  phoneNumbers: string;
  signName: string;
  templateCode: string;
  templateParam: Record<string, string>;
  code: string;
}

/** How the fake answers the next calls. */
export type FakeSmsMode = 'ok' | 'refuse' | 'http500' | 'garbage' | 'no-biz-id' | 'hang';

export interface FakeAliyunSms {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  templateCode: string;
  /** Accepted messages, oldest first. */
  readonly sent: SentSms[];
  /** Requests refused because they were not what the real service accepts (signature, fields). */
  readonly rejected: { reason: string }[];
  /** Every request that reached the fake, whatever the mode. */
  calls: number;
  mode: FakeSmsMode;
  /** The env that points Glimpse at this fake. */
  env(): Record<string, string>;
  /** The code in the last accepted message to a number as Aliyun writes it (`139…` for +86, else calling code + number). */
  lastCodeFor(phoneNumbers: string): string | undefined;
  stop(): Promise<void>;
}

const ACCEPTED_PARAMS = new Set(['PhoneNumbers', 'SignName', 'TemplateCode', 'TemplateParam', 'OutId', 'SmsUpExtendCode']);

/**
 * A local stand-in for Alibaba Cloud's SMS API (Dysmsapi 2017-05-25, SendSms), which cannot be
 * reached from here. It checks each request the way the real service does: the ACS3-HMAC-SHA256
 * signature over method, path, query, the signed headers and the body hash, a fresh timestamp
 * and nonce, the action and version, and the SendSms fields; then records the code.
 */
export async function startFakeAliyunSms(): Promise<FakeAliyunSms> {
  const accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
  const accessKeySecret = randomBytes(16).toString('hex');
  const signName = 'Glimpse';
  const templateCode = 'SMS_123456789';
  const sent: SentSms[] = [];
  const rejected: { reason: string }[] = [];
  const nonces = new Set<string>();
  const hanging = new Set<http.ServerResponse>();

  const fake: FakeAliyunSms = {
    endpoint: '',
    accessKeyId,
    accessKeySecret,
    signName,
    templateCode,
    sent,
    rejected,
    calls: 0,
    mode: 'ok',
    env: () => ({
      SMS_PROVIDER: 'aliyun',
      ALIYUN_ACCESS_KEY_ID: accessKeyId,
      ALIYUN_ACCESS_KEY_SECRET: accessKeySecret,
      ALIYUN_SMS_SIGN_NAME: signName,
      ALIYUN_SMS_TEMPLATE_CODE: templateCode,
      ALIYUN_SMS_ENDPOINT: fake.endpoint,
    }),
    lastCodeFor: (phoneNumbers) => [...sent].reverse().find((m) => m.phoneNumbers === phoneNumbers)?.code,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  const answer = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      fake.calls += 1;
      const body = Buffer.concat(chunks);
      const requestId = randomBytes(8).toString('hex').toUpperCase();
      const problem = checkRequest(req, body, { accessKeyId, accessKeySecret, nonces });
      if (problem) {
        rejected.push({ reason: problem });
        return answer(res, 400, { Code: 'SignatureDoesNotMatch', Message: problem, RequestId: requestId });
      }
      const query = new URL(req.url ?? '/', 'http://fake').searchParams;
      const fieldProblem = checkSendSms(query, { signName, templateCode });
      if (fieldProblem) {
        rejected.push({ reason: fieldProblem });
        return answer(res, 200, { Code: 'isv.INVALID_PARAMETERS', Message: fieldProblem, RequestId: requestId });
      }
      switch (fake.mode) {
        case 'hang':
          hanging.add(res);
          return;
        case 'http500':
          return answer(res, 500, {
            Code: 'InternalError',
            Message: 'The request processing has failed due to some unknown error.',
            RequestId: requestId,
          });
        case 'garbage':
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<html>gateway says hello</html>');
        case 'refuse':
          return answer(res, 200, { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: 'Frequency limit', RequestId: requestId });
        case 'no-biz-id':
          return answer(res, 200, { Code: 'OK', Message: 'OK', RequestId: requestId });
        default: {
          const templateParam = JSON.parse(query.get('TemplateParam') ?? '{}') as Record<string, string>;
          sent.push({
            phoneNumbers: query.get('PhoneNumbers') ?? '',
            signName: query.get('SignName') ?? '',
            templateCode: query.get('TemplateCode') ?? '',
            templateParam,
            code: templateParam.code,
          });
          return answer(res, 200, { Code: 'OK', Message: 'OK', BizId: `${Date.now()}^0`, RequestId: requestId });
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** The V3 signature check (ACS3-HMAC-SHA256), recomputed from what arrived on the wire. */
function checkRequest(
  req: http.IncomingMessage,
  body: Buffer,
  keys: { accessKeyId: string; accessKeySecret: string; nonces: Set<string> },
): string | null {
  const url = new URL(req.url ?? '/', 'http://fake');
  if (req.method !== 'POST' || url.pathname !== '/') return `expected POST /, got ${req.method} ${url.pathname}`;
  const h = req.headers;
  if (h['x-acs-action'] !== 'SendSms' || h['x-acs-version'] !== '2017-05-25') return 'wrong action or version';
  const date = Date.parse(String(h['x-acs-date']));
  if (!Number.isFinite(date) || Math.abs(Date.now() - date) > 15 * 60_000) return 'x-acs-date missing or stale';
  const nonce = String(h['x-acs-signature-nonce'] ?? '');
  if (!nonce || keys.nonces.has(nonce)) return 'signature nonce missing or reused';
  keys.nonces.add(nonce);
  const payloadHash = createHash('sha256').update(body).digest('hex');
  if (h['x-acs-content-sha256'] !== payloadHash) return 'x-acs-content-sha256 does not match the body';
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(String(h.authorization ?? ''));
  if (!m) return 'Authorization is not ACS3-HMAC-SHA256';
  if (m[1] !== keys.accessKeyId) return 'unknown AccessKeyId';
  const signed = m[2].split(';');
  for (const required of ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version']) {
    if (!signed.includes(required)) return `header ${required} is not signed`;
  }
  const canonicalQuery = [...url.searchParams.keys()]
    .sort()
    .map((k) => `${k}=${acsEncode(url.searchParams.get(k) ?? '')}`)
    .join('&');
  const canonicalHeaders = signed.map((k) => `${k}:${String(h[k] ?? '').trim()}\n`).join('');
  const canonicalRequest = ['POST', '/', canonicalQuery, canonicalHeaders, signed.join(';'), payloadHash].join('\n');
  const stringToSign = `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
  const expected = Buffer.from(createHmac('sha256', keys.accessKeySecret).update(stringToSign).digest('hex'));
  const given = Buffer.from(m[3]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'signature does not match';
  return null;
}

function checkSendSms(query: URLSearchParams, expected: { signName: string; templateCode: string }): string | null {
  for (const k of query.keys()) if (!ACCEPTED_PARAMS.has(k)) return `unknown parameter ${k}`;
  const phone = query.get('PhoneNumbers') ?? '';
  if (!/^\d{5,20}$/.test(phone)) return 'PhoneNumbers must be digits (no +)';
  if (query.get('SignName') !== expected.signName) return 'unknown SignName';
  if (query.get('TemplateCode') !== expected.templateCode) return 'unknown TemplateCode';
  let param: unknown;
  try {
    param = JSON.parse(query.get('TemplateParam') ?? '');
  } catch {
    return 'TemplateParam is not JSON';
  }
  const code = (param as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return 'TemplateParam.code must be 6 digits';
  return null;
}

/** Alibaba Cloud's percent-encoding for the canonical query (RFC 3986, as the SDK does it). */
function acsEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const inboxes = new Map<string, FakeAliyunSms>();

/** Lets tests that know only a server's URL (registerUser) read the codes it sent. */
export function attachSmsInbox(baseUrl: string, fake: FakeAliyunSms): void {
  inboxes.set(baseUrl, fake);
}

export function detachSmsInbox(baseUrl: string): void {
  inboxes.delete(baseUrl);
}

export function smsInboxFor(baseUrl: string): FakeAliyunSms | undefined {
  return inboxes.get(baseUrl);
}
