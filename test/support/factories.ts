import { randomBytes } from 'node:crypto';
import type { ApiClient } from './client';
import { smsInboxFor } from './fake-aliyun-sms';

let counter = 0;

/** A valid, unused Chinese mobile number (+86 139…), different on every call in a run. */
export function nextPhone(): { regionNum: string; phoneNum: string } {
  counter += 1;
  const tail = (Number(`0x${randomBytes(3).toString('hex')}`) * 97 + counter) % 100_000_000;
  return { regionNum: '86', phoneNum: `139${String(tail).padStart(8, '0')}` };
}

export interface TestUser {
  uid: number;
  ukey: string;
  phoneHash: string;
  token: string;
  nickname: string;
  regionNum: string;
  phoneNum: string;
  cid: string;
}

export const REQUEST_CODE =
  'mutation($r: String!, $p: String!) { requestVerificationCode(regionNum: $r, phoneNum: $p) { expiresAt resendAfter } }';

/**
 * Step one of register, as the app does it: asks the server for a code, then reads it from the
 * SMS the server sent (the test stack's fake Aliyun inbox).
 */
export async function requestCode(api: ApiClient, regionNum: string, phoneNum: string, headers?: Record<string, string>): Promise<string> {
  const res = await api.gql(REQUEST_CODE, { r: regionNum, p: phoneNum }, undefined, headers);
  if (!res.data) throw new Error(`requestVerificationCode failed: ${JSON.stringify(res.errors)}`);
  const inbox = smsInboxFor(api.baseUrl);
  if (!inbox) throw new Error(`no SMS inbox for ${api.baseUrl}: start the server with startStack (SMS_PROVIDER=aliyun)`);
  const region = regionNum.replace(/\D/g, '');
  const national = phoneNum.replace(/\D/g, '');
  const code = inbox.lastCodeFor(region === '86' ? national : `${region}${national}`);
  if (!code) throw new Error(`no SMS reached +${region}${national}`);
  return code;
}

/**
 * Registers a user through the API, both steps (code by SMS, then register), and returns what
 * the app would keep. A known phone moves the account to the new device.
 */
export async function registerUser(
  api: ApiClient,
  overrides: Partial<{
    regionNum: string;
    phoneNum: string;
    nickname: string;
    cid: string;
    verificationCode: string;
    publicKey: string;
  }> = {},
): Promise<TestUser> {
  const phone = nextPhone();
  const input = {
    cid: overrides.cid ?? randomBytes(16).toString('hex'),
    regionNum: overrides.regionNum ?? phone.regionNum,
    phoneNum: overrides.phoneNum ?? phone.phoneNum,
    nickname: overrides.nickname ?? `user${counter}`,
    verificationCode: '',
    ...(overrides.publicKey !== undefined ? { publicKey: overrides.publicKey } : {}),
  };
  input.verificationCode = overrides.verificationCode ?? (await requestCode(api, input.regionNum, input.phoneNum));
  const res = await api.gql<{ register: { uid: number; ukey: string; phoneHash: string } }>(
    'mutation($input: RegisterInput!) { register(input: $input) { uid ukey phoneHash } }',
    { input },
  );
  if (!res.data) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
  const r = res.data.register;
  return {
    ...r,
    token: `${r.phoneHash}.${r.ukey}`,
    nickname: input.nickname,
    regionNum: input.regionNum,
    phoneNum: input.phoneNum,
    cid: input.cid,
  };
}

/** Bytes that start like a JPEG (what type sniffing reads) followed by random data. */
export function jpegBytes(size: number): Buffer {
  const head = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
  ]);
  return Buffer.concat([head, randomBytes(Math.max(0, size - head.length))]).subarray(0, size);
}

/** A PNG: signature, IHDR, one IDAT chunk of random data filling `size` bytes, IEND (CRCs unchecked). */
export function pngBytes(size: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'ascii'), data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.from('0000000100000001080600000000', 'hex').subarray(0, 13);
  const head = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr)]);
  const iend = chunk('IEND', Buffer.alloc(0));
  const dataLength = Math.max(0, size - head.length - iend.length - 12);
  return Buffer.concat([head, chunk('IDAT', randomBytes(dataLength)), iend]);
}
