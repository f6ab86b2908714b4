import { randomBytes } from 'node:crypto';
import type { ApiClient } from './client';

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

/** Registers a new user through the API and returns what the app would keep. */
export async function registerUser(api: ApiClient, overrides: Partial<{ regionNum: string; phoneNum: string; nickname: string; cid: string }> = {}): Promise<TestUser> {
  const phone = nextPhone();
  const input = {
    cid: overrides.cid ?? randomBytes(16).toString('hex'),
    regionNum: overrides.regionNum ?? phone.regionNum,
    phoneNum: overrides.phoneNum ?? phone.phoneNum,
    nickname: overrides.nickname ?? `user${counter}`,
  };
  const res = await api.gql<{ register: { uid: number; ukey: string; phoneHash: string } }>(
    'mutation($input: RegisterInput!) { register(input: $input) { uid ukey phoneHash } }',
    { input },
  );
  if (!res.data) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
  const r = res.data.register;
  return { ...r, token: `${r.phoneHash}.${r.ukey}`, nickname: input.nickname, regionNum: input.regionNum, phoneNum: input.phoneNum, cid: input.cid };
}

/** Bytes that start like a JPEG (what type sniffing reads) followed by random data. */
export function jpegBytes(size: number): Buffer {
  const head = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
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
