import { createHash } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { BadInputError } from '../errors';

export interface NormalizedPhone {
  regionNum: string;
  phoneNum: string;
  phoneHash: string;
}

/** Lowercase hex SHA-256 of the E.164 string, the same hash clients compute for their contacts. */
export function phoneHashOf(regionNum: string, phoneNum: string): string {
  return createHash('sha256').update(`+${regionNum}${phoneNum}`).digest('hex');
}

export const PHONE_HASH = /^[0-9a-f]{64}$/;

/**
 * Validates a number with libphonenumber-js's full metadata and splits it into the calling code
 * and the national number, digits only. Spaces, dashes and a leading + or 00 are tolerated.
 */
export function normalizePhone(regionNumRaw: string, phoneNumRaw: string): NormalizedPhone {
  const region = regionNumRaw.trim().replace(/^(\+|00)/, '');
  if (!/^\d{1,3}$/.test(region)) throw new BadInputError('regionNum must be a country calling code such as 86, 1 or 44', 'regionNum');
  const national = phoneNumRaw.replace(/[\s().-]/g, '');
  if (!/^\d{4,17}$/.test(national)) throw new BadInputError('phoneNum must be a national phone number, digits only', 'phoneNum');
  const parsed = parsePhoneNumberFromString(`+${region}${national}`);
  if (!parsed || !parsed.isValid()) throw new BadInputError('phoneNum is not a valid phone number for that regionNum', 'phoneNum');
  const regionNum = String(parsed.countryCallingCode);
  const phoneNum = String(parsed.nationalNumber);
  return { regionNum, phoneNum, phoneHash: phoneHashOf(regionNum, phoneNum) };
}

/**
 * The number as logs may name it: the calling code and the last two digits (`+86*********01`),
 * enough for a person to find their own line, too little to tell whose number it is. Logs never
 * hold the phone hash: it is reversed by brute force in seconds.
 */
export function maskedNumber(phone: { regionNum: string; phoneNum: string }): string {
  const shown = phone.phoneNum.slice(-2);
  return `+${phone.regionNum}${'*'.repeat(Math.max(0, phone.phoneNum.length - shown.length))}${shown}`;
}
