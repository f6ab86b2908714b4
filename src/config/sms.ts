import { normalizePhone } from '../services/phone';
import type { EnvReader } from './env-reader';

export interface AliyunSmsConfig {
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  templateCode: string;
  /** The template variable that receives the code, `${code}` in the usual template. */
  templateParam: string;
  /** host[:port] of the SMS API. */
  endpoint: string;
  protocol: 'https' | 'http';
  timeoutMs: number;
}

export interface SmsSection {
  smsProvider: 'log' | 'aliyun';
  aliyunSms: AliyunSmsConfig | null;
  /** E.164 number (`+8613800000001`) → its fixed code; no SMS is sent to these. */
  smsTestNumbers: Map<string, string>;
  /** SMS_TEST_NUMBERS_IN_PRODUCTION: test numbers were allowed in production on purpose. */
  smsTestNumbersInProduction: boolean;
}

/** SMS_PROVIDER, ALIYUN_*, SMS_TEST_NUMBERS and SMS_TEST_NUMBERS_IN_PRODUCTION. */
export function smsConfig(r: EnvReader, production: boolean): SmsSection {
  const smsProvider = r.oneOf('SMS_PROVIDER', 'log', ['log', 'aliyun'] as const);
  if (smsProvider === 'log' && production) {
    r.problem(
      'SMS_PROVIDER: "log" writes verification codes to the log and is for development only; set SMS_PROVIDER=aliyun in production',
    );
  }
  const aliyunSms = smsProvider === 'aliyun' ? aliyunConfig(r) : null;
  const smsTestNumbers = testNumbers(r);
  // A number with a fixed code is a way into its account for anyone who reads the
  // configuration, so production takes them only on purpose.
  const smsTestNumbersInProduction = r.bool('SMS_TEST_NUMBERS_IN_PRODUCTION', false);
  if (production && smsTestNumbers.size > 0 && !smsTestNumbersInProduction) {
    r.problem(
      `SMS_TEST_NUMBERS: ${smsTestNumbers.size} test number(s) with fixed codes are refused in production; remove them, or set SMS_TEST_NUMBERS_IN_PRODUCTION=true if they are meant to be there (app-store review)`,
    );
  }
  return { smsProvider, aliyunSms, smsTestNumbers, smsTestNumbersInProduction };
}

function aliyunConfig(r: EnvReader): AliyunSmsConfig {
  const required = ['ALIYUN_ACCESS_KEY_ID', 'ALIYUN_ACCESS_KEY_SECRET', 'ALIYUN_SMS_SIGN_NAME', 'ALIYUN_SMS_TEMPLATE_CODE'];
  for (const n of required.filter((n) => !r.env[n])) r.problem(`${n}: required when SMS_PROVIDER=aliyun`);
  const endpointRaw = r.str('ALIYUN_SMS_ENDPOINT', 'https://dysmsapi.aliyuncs.com');
  let endpoint = 'dysmsapi.aliyuncs.com';
  let protocol: 'https' | 'http' = 'https';
  try {
    const u = new URL(endpointRaw.includes('://') ? endpointRaw : `https://${endpointRaw}`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    endpoint = u.host;
    protocol = u.protocol === 'http:' ? 'http' : 'https';
  } catch {
    r.problem(`ALIYUN_SMS_ENDPOINT: expected a host or an http(s) URL such as https://dysmsapi.aliyuncs.com, got "${endpointRaw}"`);
  }
  return {
    accessKeyId: r.str('ALIYUN_ACCESS_KEY_ID', ''),
    accessKeySecret: r.str('ALIYUN_ACCESS_KEY_SECRET', ''),
    signName: r.str('ALIYUN_SMS_SIGN_NAME', ''),
    templateCode: r.str('ALIYUN_SMS_TEMPLATE_CODE', ''),
    templateParam: r.str('ALIYUN_SMS_TEMPLATE_PARAM', 'code'),
    endpoint,
    protocol,
    timeoutMs: r.int('ALIYUN_SMS_TIMEOUT_MS', 5000, 100, 60_000),
  };
}

/** SMS_TEST_NUMBERS: `+<number>=<6 digits>`, comma-separated. */
function testNumbers(r: EnvReader): Map<string, string> {
  const numbers = new Map<string, string>();
  const entries = r
    .str('SMS_TEST_NUMBERS', '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [numberRaw = '', code = ''] = entry.split('=');
    const number = numberRaw.trim().startsWith('+') ? parseE164(numberRaw.trim()) : null;
    if (!number || !/^\d{6}$/.test(code.trim())) {
      r.problem(`SMS_TEST_NUMBERS: expected +<calling code><number>=<6 digits>, e.g. +8613800000001=123456; got "${numberRaw.trim()}=…"`);
      continue;
    }
    numbers.set(number, code.trim());
  }
  return numbers;
}

/** `+8613800000001` (spaces and dashes allowed) → the canonical E.164 string, or null when not a valid number. */
function parseE164(raw: string): string | null {
  const digits = raw.replace(/[\s-]/g, '');
  for (let split = 1; split <= 3; split++) {
    try {
      const p = normalizePhone(digits.slice(1, 1 + split), digits.slice(1 + split));
      if (`+${p.regionNum}${p.phoneNum}` === digits) return digits;
    } catch {
      // not this split of calling code and national number
    }
  }
  return null;
}
