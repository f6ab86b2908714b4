import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenCheck = { ok: true; messageKey: string; grantId: number } | { ok: false; reason: 'malformed' | 'tampered' | 'expired' };

/**
 * Short-lived download tokens: `<messageKey>.<expiry, unix seconds>.<grant id>.<HMAC-SHA256>`. The secret
 * lives in the database, so a token minted by one instance is honoured by every other.
 */
export class DownloadTokens {
  constructor(private readonly secret: Buffer) {}

  mint(messageKey: string, expiresAt: Date, grantId: number): string {
    const exp = Math.floor(expiresAt.getTime() / 1000);
    return `${messageKey}.${exp}.${grantId}.${this.sign(`${messageKey}.${exp}.${grantId}`)}`;
  }

  check(token: string, now: Date): TokenCheck {
    const m = /^([0-9a-f]{64})\.(\d{1,12})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    const expected = Buffer.from(this.sign(`${m[1]}.${m[2]}.${m[3]}`));
    const given = Buffer.from(m[4]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'tampered' };
    if (Number(m[2]) * 1000 <= now.getTime()) return { ok: false, reason: 'expired' };
    return { ok: true, messageKey: m[1], grantId: Number(m[3]) };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
