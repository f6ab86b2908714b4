import { randomBytes } from 'node:crypto';
import type { BlobStore } from '../adapters/blob-store';
import type { RateLimiter } from '../adapters/rate-limiter';
import type { User } from '../entities/user.entity';
import { BadInputError, RateLimitedError, UnauthenticatedError } from '../errors';
import type { Logger } from '../logger';
import type { AccountExportRepository, AccountLifecycleRepository } from '../repositories/account-lifecycle.repository';
import type { ReceiptJobs } from '../repositories/message.repository';
import type { UserRepository } from '../repositories/user.repository';
import { hashUkey, RegistrationResult } from './account.service';
import { exportDocument } from './account-export';
import { normalizePhone } from './phone';
import type { PushOutbox } from './push.outbox';
import type { VerificationService } from './verification.service';

export interface ChangeNumberArgs {
  regionNum: string;
  phoneNum: string;
  /** The code sent by SMS to the new number. */
  verificationCode: string;
}

/** What a deletion needs besides its rows: the store its blobs live in, and the receipts. */
export interface DeletionCleanup {
  blobs: Pick<BlobStore, 'delete'>;
  /** Told when the deletion's receipts are committed, so they go out at once. */
  pushes: Pick<PushOutbox, 'committed'>;
  /** Signs the receipts for the senders of the images a deletion destroys; none without it. */
  receipts?: ReceiptJobs;
}

/** What the deletion page tells the person who proved the number. */
export interface DeletionByPhone {
  /** False when no account used the number. */
  deleted: boolean;
  /** The number, E.164. */
  e164: string;
}

/** What AccountLifecycleService works with. */
export interface AccountLifecycleDeps {
  users: Pick<UserRepository, 'findByPhoneHash'>;
  rows: AccountLifecycleRepository;
  exports: AccountExportRepository;
  verification: Pick<VerificationService, 'verify'>;
  limiter: RateLimiter;
  cleanup: DeletionCleanup;
  log: Logger;
  now?: () => Date;
}

/**
 * The account's life after register: sign out, move to another number, delete (in the app or
 * on the web page, with an SMS code), and export everything held about it.
 */
export class AccountLifecycleService {
  private readonly users: Pick<UserRepository, 'findByPhoneHash'>;
  private readonly rows: AccountLifecycleRepository;
  private readonly exports: AccountExportRepository;
  private readonly verification: Pick<VerificationService, 'verify'>;
  private readonly limiter: RateLimiter;
  private readonly cleanup: DeletionCleanup;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(deps: AccountLifecycleDeps) {
    this.users = deps.users;
    this.rows = deps.rows;
    this.exports = deps.exports;
    this.verification = deps.verification;
    this.limiter = deps.limiter;
    this.cleanup = deps.cleanup;
    this.log = deps.log;
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * This device's ukey stops working and its cid is forgotten (no more pushes); the account and
   * everything in it stay, for a register with an SMS code (and the lock's PIN, if any) later.
   */
  async signOut(viewer: User): Promise<boolean> {
    // The ukey becomes the hash of a secret that is never shown: no token matches it.
    if (!(await this.rows.signOut(viewer.uid, hashUkey(newUkey()), this.now()))) throw new UnauthenticatedError();
    this.log.info({ uid: viewer.uid }, 'signed out');
    return true;
  }

  /**
   * Moves the account to the number the code was sent to: same uid and everything in it, a new
   * ukey (the old one stops at once). A number that has an account is refused, and said so only
   * to whoever holds its code; the code is then not used up.
   */
  async changeNumber(viewer: User, args: ChangeNumberArgs, ip: string | undefined): Promise<RegistrationResult> {
    const phone = normalizePhone(args.regionNum, args.phoneNum);
    if (phone.phoneHash === viewer.phoneHash) throw new BadInputError('That is already the number of this account', 'phoneNum');
    const decision = await this.limiter.consume([{ rule: 'changeNumber', key: String(viewer.uid) }]);
    if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs / 1000);
    const taken = () => new BadInputError('This number already has an account; delete that account first', 'phoneNum');
    await this.verification.verify(phone, args.verificationCode, ip, async () => {
      if (await this.users.findByPhoneHash(phone.phoneHash)) throw taken();
    });
    const ukey = newUkey();
    const outcome = await this.rows.changeNumber(viewer.uid, { ...phone, ukeyHash: hashUkey(ukey), now: this.now() });
    if (!outcome.ok) throw outcome.reason === 'taken' ? taken() : new UnauthenticatedError();
    this.log.info({ uid: viewer.uid }, 'number changed');
    return { uid: outcome.user.uid, ukey, phoneHash: outcome.user.phoneHash, user: outcome.user };
  }

  /**
   * Deletes the account and everything that is its own, at once and for good (see
   * AccountLifecycleRepository.deleteAccount); the blobs go from the store once that is
   * committed (any that fail are collected by the orphan sweep). False when it was gone already.
   */
  async deleteAccount(uid: number): Promise<boolean> {
    const now = this.now();
    const result = await this.rows.deleteAccount(uid, now, this.cleanup.receipts);
    if (!result.found) return false;
    this.cleanup.pushes.committed();
    // Pushes to others that carry the account's phone hash (pending ones would announce images
    // that are gone); they go with the outbox's retention should this fail.
    await this.rows.forgetInPushes(result.phoneHash).then(
      (n) => (result.counts.pushesNaming = n),
      (err) => this.log.warn({ err, uid }, 'could not delete the pushes that name a deleted account'),
    );
    let blobsLeft = 0;
    for (const name of result.objectNames) {
      try {
        await this.cleanup.blobs.delete(name);
      } catch (err) {
        blobsLeft++;
        this.log.warn({ err, uid }, 'could not delete a blob of a deleted account; the orphan sweep will');
      }
    }
    this.log.info({ uid, ...result.counts, blobs: result.objectNames.length, blobsLeft }, 'account deleted');
    return true;
  }

  /**
   * The web page's deletion: whoever holds the number's SMS code deletes its account. The code
   * alone is enough, even with a registration lock: deleting hands the account to no one.
   */
  async deleteByPhone(regionNum: string, phoneNum: string, code: string, ip: string | undefined): Promise<DeletionByPhone> {
    const phone = normalizePhone(regionNum, phoneNum);
    await this.verification.verify(phone, code, ip);
    const user = await this.users.findByPhoneHash(phone.phoneHash);
    const deleted = user ? await this.deleteAccount(user.uid) : false;
    return { deleted, e164: `+${phone.regionNum}${phone.phoneNum}` };
  }

  /** Everything held about the viewer as one JSON document; RATE_LIMIT_EXPORT per user. */
  async exportMyData(viewer: User): Promise<Record<string, unknown>> {
    const decision = await this.limiter.consume([{ rule: 'exportData', key: String(viewer.uid) }]);
    if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs / 1000);
    const rows = await this.exports.rowsOf(viewer.uid);
    if (!rows) throw new UnauthenticatedError();
    return exportDocument(rows, this.now());
  }
}

function newUkey(): string {
  return randomBytes(32).toString('base64url');
}
