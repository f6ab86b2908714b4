import type { RateLimitCharge, RateLimiter } from '../adapters/rate-limiter';
import type { User } from '../entities/user.entity';
import { BadInputError, NotFoundError, RateLimitedError, RegistrationLockedError } from '../errors';
import type { UserRepository } from '../repositories/user.repository';
import { hashPin, PIN_SCRYPT, ScryptParams, verifyPin } from './pin-hash';
import { Settings, settingsOf } from './social.service';

export interface RegistrationLockOptions {
  /** The lock lapses once the account has not been seen for this long (REGISTRATION_LOCK_DAYS). */
  lapseMs: number;
  /** Keys every PIN before it is hashed; kept in the database's server secrets, not with the users. */
  pepper: Buffer;
  /** The cost of new hashes (PIN_SCRYPT unless given); each stored hash keeps the cost it was made with. */
  scrypt?: ScryptParams;
}

/**
 * How stale `lastSeenAt` may grow before an authenticated request writes it again: one write an
 * hour per active user instead of one per request.
 */
export const SEEN_RESOLUTION_MS = 3_600_000;

/** What a register call proved about the lock, for the move to check again on the locked row. */
export interface LockPass {
  /** The stored lock the PIN matched; null when no lock was in force. */
  matched: string | null;
}

/** The PIN's bounds, in characters (code points, after NFC normalisation). */
const PIN_MIN = 6;
const PIN_MAX = 64;

/**
 * The registration lock: a PIN the owner sets, without which a known number cannot be registered
 * on another device (an SMS code alone is not enough), unless the account has not been seen for
 * a while (a lost phone must not lose the number for good). Wrong PINs are rate limited per account.
 */
export class RegistrationLockService {
  constructor(
    private readonly users: UserRepository,
    private readonly limiter: RateLimiter,
    private readonly options: RegistrationLockOptions,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Sets, changes (`pin`) or removes (`null`) the viewer's lock. */
  async set(viewer: User, pinRaw: string | null): Promise<Settings> {
    const pin = pinRaw === null ? null : checkPin(pinRaw, 'pin');
    let stored: string | null = null;
    if (pin !== null) {
      const decision = await this.limiter.consume([{ rule: 'registrationLockSet', key: String(viewer.uid) }]);
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs / 1000);
      stored = await hashPin(pin, this.options.pepper, this.options.scrypt ?? PIN_SCRYPT);
    }
    const user = await this.users.updateRegistrationLock(viewer.uid, stored, this.now());
    if (!user) throw new NotFoundError('User');
    return settingsOf(user);
  }

  /** Whether `user`'s lock is in force now: set, and the account seen within the lapse window. */
  holds(user: User, now: Date = this.now()): boolean {
    if (user.registrationLock === null || user.lastSeenAt === null) return false;
    // lastSeenAt may lag the real last request by up to SEEN_RESOLUTION_MS: counting that in
    // means the lock never lapses early, at worst an hour late.
    return now.getTime() - user.lastSeenAt.getTime() < this.options.lapseMs + SEEN_RESOLUTION_MS;
  }

  /**
   * For a register of `user`'s number (null: a new number). A lock in force needs the right PIN:
   * none is PIN_MISSING (and costs nothing); a wrong one is PIN_WRONG and spends one of the
   * account's daily tries; once they are spent, every PIN is RATE_LIMITED, the right one too.
   */
  async admit(user: User | null, pin: string | null): Promise<LockPass> {
    if (!user || !this.holds(user)) return { matched: null };
    if (pin === null) throw new RegistrationLockedError('PIN_MISSING');
    const charge: RateLimitCharge[] = [{ rule: 'registrationLockPin', key: String(user.uid) }];
    const decision = await this.limiter.consume(charge);
    if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs / 1000);
    const stored = user.registrationLock!;
    if (!(await verifyPin(pin, stored, this.options.pepper))) throw new RegistrationLockedError('PIN_WRONG');
    // Only wrong PINs count.
    await this.limiter.reward(charge);
    return { matched: stored };
  }

  /**
   * The same rule on the row as it stands when the move is written (locked): a lock set or changed
   * since `admit` looked, or an owner seen again, is not passed by what `admit` saw.
   */
  stillAdmits(current: User, pass: LockPass, now: Date = this.now()): boolean {
    return !this.holds(current, now) || (pass.matched !== null && current.registrationLock === pass.matched);
  }
}

/** 6 to 64 characters; not trimmed (spaces may be part of it), normalised so any keyboard types the same PIN. */
export function checkPin(raw: string, field: string): string {
  const pin = raw.normalize('NFC');
  const length = [...pin].length;
  if (length < PIN_MIN || length > PIN_MAX) throw new BadInputError(`${field} must be ${PIN_MIN} to ${PIN_MAX} characters`, field);
  return pin;
}
