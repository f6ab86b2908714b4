import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { RateLimitCharge, RateLimiter } from '../adapters/rate-limiter';
import type { SmsProvider } from '../adapters/sms-provider';
import { BadInputError, RateLimitedError, SmsUnavailableError, VerificationCodeError } from '../errors';
import type { Logger } from '../logger';
import type { VerificationCodeRepository } from '../repositories/verification-code.repository';
import { addressKey } from './client-address';
import { maskedNumber, NormalizedPhone, normalizePhone } from './phone';

export interface VerificationOptions {
  /** A code works this long after it was sent (10 minutes). */
  codeTtlSeconds: number;
  /** Wrong tries after which a code is burnt (5). */
  maxAttempts: number;
  /** E.164 number → fixed code: no SMS is sent, and the fixed code always works. */
  testNumbers: Map<string, string>;
  /** Keys the HMAC that stands in for the code in the database. */
  codeSecret: Buffer;
}

export interface VerificationRequest {
  expiresAt: Date;
  /** When the next code may be asked for. */
  resendAfter: Date;
}

/**
 * How long a code's row outlives its expiry before the retention prune deletes it: until then a
 * late try with the right code hears EXPIRED (or USED) rather than WRONG. Nothing else
 * reads an expired row: tries only count against a live code, and rate limits keep counters of
 * their own.
 */
export const EXPIRED_CODE_KEPT_MS = 24 * 3_600_000;

const CODE = /^\d{6}$/;
/** Digits cut from the end of a number to name its block (SMS pumping walks through blocks). */
const PREFIX_CUT = 4;

/**
 * One-time SMS codes that prove a person holds a phone: sent on request, valid for a while,
 * used once, burnt after a few wrong tries. Every request and every try is rate limited; a
 * malformed or refused call spends nothing.
 */
export class VerificationService {
  constructor(
    private readonly codes: VerificationCodeRepository,
    private readonly sms: SmsProvider,
    private readonly limiter: RateLimiter,
    private readonly options: VerificationOptions,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Sends a fresh code to the phone (none for a test number); never returns the code. */
  async request(regionNumRaw: string, phoneNumRaw: string, ip: string | undefined): Promise<VerificationRequest> {
    const phone = normalizePhone(regionNumRaw, phoneNumRaw);
    const e164 = `+${phone.regionNum}${phone.phoneNum}`;
    const decision = await this.limiter.consume([
      { rule: 'codeResend', key: phone.phoneHash },
      { rule: 'codePhone', key: phone.phoneHash },
      { rule: 'codeIp', key: addressKey(ip) },
      { rule: 'codePrefix', key: e164.slice(0, -PREFIX_CUT) },
    ]);
    if (!decision.allowed) throw new RateLimitedError(toSeconds(decision.retryAfterMs));

    const now = this.now();
    const expiresAt = new Date(now.getTime() + this.options.codeTtlSeconds * 1000);
    const answer = { expiresAt, resendAfter: new Date(now.getTime() + decision.nextInMs) };
    if (this.options.testNumbers.has(e164)) return answer;

    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const codeHash = this.hashCode(phone.phoneHash, code);
    await this.codes.replace({ phoneHash: phone.phoneHash, codeHash, sentAt: now, expiresAt });
    try {
      await this.sms.sendVerificationCode({
        regionNum: phone.regionNum,
        phoneNum: phone.phoneNum,
        code,
        ttlMinutes: Math.round(this.options.codeTtlSeconds / 60),
      });
    } catch (err) {
      // The spent budget stays spent: a failing provider must not turn into unlimited retries.
      const e = err as { name?: string; message?: string; providerCode?: string; requestId?: string };
      this.log.error(
        { to: maskedNumber(phone), sms: this.sms.description, providerCode: e.providerCode, requestId: e.requestId, reason: e.message },
        'verification SMS failed',
      );
      await this.codes.remove(phone.phoneHash, codeHash).catch(() => undefined);
      throw new SmsUnavailableError();
    }
    return answer;
  }

  /**
   * Checks the code a register call carries and uses it up. Every try is counted against the
   * phone and the address, right or wrong; a wrong one also counts against the code itself.
   * `beforeUse` runs once the code has proved right, before it is used up: when it throws, the
   * code stays good for another try (the registration lock asks for a PIN this way).
   */
  async verify(phone: NormalizedPhone, codeRaw: string, ip: string | undefined, beforeUse?: () => Promise<void>): Promise<void> {
    const code = codeRaw.trim();
    if (!CODE.test(code)) throw new BadInputError('verificationCode must be the 6 digits sent by SMS', 'verificationCode');
    const charges: RateLimitCharge[] = [
      { rule: 'registerPhone', key: phone.phoneHash },
      { rule: 'registerIp', key: addressKey(ip) },
    ];
    const decision = await this.limiter.consume(charges);
    if (!decision.allowed) throw new RateLimitedError(toSeconds(decision.retryAfterMs));

    const fixed = this.options.testNumbers.get(`+${phone.regionNum}${phone.phoneNum}`);
    if (fixed !== undefined) {
      if (!sameText(fixed, code)) throw new VerificationCodeError('WRONG');
      await beforeUse?.();
      return;
    }

    const now = this.now();
    const row = await this.codes.findByPhoneHash(phone.phoneHash);
    const given = this.hashCode(phone.phoneHash, code);
    if (!row || !sameText(row.codeHash, given)) {
      // One answer to every wrong code, whether a code was asked for, is live, used, expired or
      // burnt, and no count of tries left: anything else tells a stranger who tries a number
      // that someone asked for a code for it.
      if (row && row.usedAt === null && row.expiresAt > now) await this.codes.countWrongTry(row.id, this.options.maxAttempts);
      throw new VerificationCodeError('WRONG');
    }
    // Only the holder of the right code learns whether it was used, expired or burnt.
    if (row.usedAt !== null) throw new VerificationCodeError('USED');
    if (row.expiresAt <= now) throw new VerificationCodeError('EXPIRED');
    if (row.attempts >= this.options.maxAttempts) throw new VerificationCodeError('TOO_MANY_TRIES');
    await beforeUse?.();
    if (!(await this.codes.claim(row.id, row.codeHash, this.options.maxAttempts, now))) {
      throw new VerificationCodeError('USED');
    }
  }

  private hashCode(phoneHash: string, code: string): string {
    return createHmac('sha256', this.options.codeSecret).update(`${phoneHash}:${code}`).digest('hex');
  }
}

/** Constant-time comparison of two strings of any length. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function toSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
