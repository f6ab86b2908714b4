import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { BlobStore } from '../adapters/blob-store';
import { RateLimiter, unlimited } from '../adapters/rate-limiter';
import type { User } from '../entities/user.entity';
import { BadInputError, NotFoundError, RegistrationLockedError } from '../errors';
import type { Logger } from '../logger';
import type { ImageRepository } from '../repositories/image.repository';
import type { ReceiptJobs } from '../repositories/message.repository';
import type { AccountMove, EndedImage, UserRepository } from '../repositories/user.repository';
import { userKey, withinLimits } from './action-limits';
import { normalizePhone } from './phone';
import type { PushOutbox } from './push.outbox';
import { accountMovedPush, PUSH_KIND_ACCOUNT_MOVED } from './push.payloads';
import { checkPin, LockPass, RegistrationLockService, SEEN_RESOLUTION_MS } from './registration-lock.service';
import type { VerificationService } from './verification.service';

export interface RegisterArgs {
  cid: string;
  regionNum: string;
  phoneNum: string;
  nickname: string;
  /** The code sent by SMS to the phone (requestVerificationCode). */
  verificationCode: string;
  /** The device's X25519 public key, 32 bytes in base64. */
  publicKey?: string | null;
  /** The account's registration lock PIN, needed to move a locked account to this device. */
  registrationLockPin?: string | null;
}

/** What a move leaves to clear up after its transaction: the ended images' blobs, the pushes it wrote. */
export interface MoveCleanup {
  blobs: BlobStore;
  images: Pick<ImageRepository, 'markBlobDeleted'>;
  /** Told when the move's pushes are committed, so they go out at once. */
  pushes: Pick<PushOutbox, 'committed'>;
  /** Signs the receipts for the senders of the images a move destroys; none without it. */
  receipts?: ReceiptJobs;
}

export interface RegistrationResult {
  uid: number;
  ukey: string;
  phoneHash: string;
  user: User;
}

const CID = /^[A-Za-z0-9_.:-]{1,64}$/;
const BEARER = /^Bearer\s+([0-9a-f]{64})\.([A-Za-z0-9_-]{43})$/;
// Control and format characters make a nickname that renders as something else.
const NICKNAME_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** What AccountService works with. */
export interface AccountServiceDeps {
  users: UserRepository;
  verification: VerificationService;
  lock: RegistrationLockService;
  cleanup: MoveCleanup;
  log: Logger;
  now?: () => Date;
  limiter?: RateLimiter;
}

/** Accounts: register a phone on a device, move it to another device, and recognise a device's token. */
export class AccountService {
  private readonly users: UserRepository;
  private readonly verification: VerificationService;
  private readonly lock: RegistrationLockService;
  private readonly cleanup: MoveCleanup;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly limiter: RateLimiter;

  constructor(deps: AccountServiceDeps) {
    this.users = deps.users;
    this.verification = deps.verification;
    this.lock = deps.lock;
    this.cleanup = deps.cleanup;
    this.log = deps.log;
    this.now = deps.now ?? (() => new Date());
    this.limiter = deps.limiter ?? unlimited;
  }

  /**
   * Binds the phone to this device once its SMS code checks out: a new phone creates the user, a
   * known one moves to this device (new ukey and cid; the old ukey stops working at once). A
   * locked account moves only with its PIN; a missing or wrong PIN leaves the code unused. A
   * move destroys every image pending for the account (its senders get receipts) and tells the
   * old device. Malformed input is refused before any try is counted.
   */
  async register(args: RegisterArgs, ip: string | undefined): Promise<RegistrationResult> {
    const cid = checkCid(args.cid);
    const nickname = checkNickname(args.nickname);
    const publicKey = args.publicKey == null ? null : checkPublicKey(args.publicKey);
    const pin = args.registrationLockPin == null ? null : checkPin(args.registrationLockPin, 'registrationLockPin');
    const phone = normalizePhone(args.regionNum, args.phoneNum);
    // The lock is looked at only once the code has proved right: whether a number is locked is
    // told to no one who cannot receive its SMS.
    let pass: LockPass = { matched: null };
    let known = false;
    await this.verification.verify(phone, args.verificationCode, ip, async () => {
      const current = await this.users.findByPhoneHash(phone.phoneHash);
      known = current !== null;
      pass = await this.lock.admit(current, pin);
    });
    const ukey = randomBytes(32).toString('base64url');
    const now = this.now();
    const move: AccountMove = {
      check: (current) => {
        if (!this.lock.stillAdmits(current, pass, now)) throw new RegistrationLockedError(pin === null ? 'PIN_MISSING' : 'PIN_WRONG');
      },
      // Nothing to tell when the device is the same one (the app was reinstalled).
      notices: (previous) =>
        previous.cid && previous.cid !== cid
          ? [
              {
                receiverUid: previous.uid,
                cid: previous.cid,
                kind: PUSH_KIND_ACCOUNT_MOVED,
                payload: JSON.stringify(accountMovedPush(now)),
                expiresAt: null,
              },
            ]
          : [],
      receipts: this.cleanup.receipts,
    };
    const { user, created, endedImages } = await this.users.registerDevice(
      { ...phone, nickname, cid, ukeyHash: hashUkey(ukey), publicKey, now, known },
      move,
    );
    if (!created) {
      this.cleanup.pushes.committed();
      this.log.info({ uid: user.uid, imagesDestroyed: endedImages.length }, 'account moved to another device');
      await this.deleteBlobs(endedImages, now);
    }
    return { uid: user.uid, ukey, phoneHash: user.phoneHash, user };
  }

  /** The user a `Bearer <phoneHash>.<ukey>` header belongs to, or null for anything else. */
  async authenticate(authorization: string | undefined): Promise<User | null> {
    const m = authorization ? BEARER.exec(authorization.trim()) : null;
    if (!m) return null;
    const user = await this.users.findByPhoneHash(m[1]);
    if (!user) return null;
    const given = Buffer.from(hashUkey(m[2]), 'hex');
    const stored = Buffer.from(user.ukeyHash, 'hex');
    if (!(given.length === stored.length && timingSafeEqual(given, stored))) return null;
    await this.seen(user);
    return user;
  }

  /** Records that the account is in use (the registration lock lapses without it), at most once an hour. */
  private async seen(user: User): Promise<void> {
    const now = this.now();
    const staleBefore = new Date(now.getTime() - SEEN_RESOLUTION_MS);
    if (user.lastSeenAt && user.lastSeenAt >= staleBefore) return;
    try {
      await this.users.touchSeen(user.uid, now, staleBefore);
      user.lastSeenAt = now;
    } catch (err) {
      // The request itself can still be served; the next one tries again.
      this.log.warn({ err, uid: user.uid }, 'could not record that the account was seen');
    }
  }

  /** The moved account's ended images: their keys are gone already; their blobs go now, or later by the expiry sweep. */
  private async deleteBlobs(images: EndedImage[], now: Date): Promise<void> {
    for (const image of images) {
      try {
        await this.cleanup.blobs.delete(image.objectName);
        await this.cleanup.images.markBlobDeleted(image.id, now);
      } catch (err) {
        this.log.error({ err, imageId: image.id }, 'could not delete the blob of an image ended by an account move; the expiry sweep will');
      }
    }
  }

  /** Publishes (or replaces) the viewer's X25519 public key. */
  async setPublicKey(viewer: User, raw: string): Promise<User> {
    const user = await this.users.updatePublicKey(viewer.uid, checkPublicKey(raw), this.now());
    if (!user) throw new NotFoundError('User');
    return user;
  }

  /** A phone's push id changes rarely (a reinstall, a token refresh): 10 an hour is plenty. */
  async updateCid(viewer: User, cidRaw: string): Promise<User> {
    const cid = checkCid(cidRaw);
    return withinLimits(this.limiter, [{ rule: 'updateCid', key: userKey(viewer.uid) }], 'push id updates', async () => {
      const user = await this.users.updateCid(viewer.uid, cid, this.now());
      if (!user) throw new NotFoundError('User');
      return user;
    });
  }
}

export function hashUkey(ukey: string): string {
  return createHash('sha256').update(ukey).digest('hex');
}

/** 32 bytes in standard base64 (44 characters); the message never echoes the value. */
function checkPublicKey(raw: string): string {
  const key = raw.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(key) || Buffer.from(key, 'base64').length !== 32) {
    throw new BadInputError('publicKey must be an X25519 public key: 32 bytes in base64 (44 characters)', 'publicKey');
  }
  return key;
}

function checkCid(raw: string): string {
  const cid = raw.trim();
  if (!CID.test(cid)) throw new BadInputError('cid must be the push client id: 1 to 64 letters, digits or -_.:', 'cid');
  return cid;
}

function checkNickname(raw: string): string {
  const nickname = raw.trim().normalize('NFC');
  const length = [...nickname].length;
  if (length < 1 || length > 64) throw new BadInputError('nickname must be 1 to 64 characters after trimming', 'nickname');
  if (NICKNAME_FORBIDDEN.test(nickname)) throw new BadInputError('nickname must not contain control characters', 'nickname');
  return nickname;
}
