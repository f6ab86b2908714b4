import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { User } from '../entities/user.entity';
import { BadInputError, NotFoundError } from '../errors';
import type { UserRepository } from '../repositories/user.repository';
import { normalizePhone } from './phone';
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

/** Accounts: register a phone on a device, move it to another device, and recognise a device's token. */
export class AccountService {
  constructor(
    private readonly users: UserRepository,
    private readonly verification: VerificationService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Binds the phone to this device once its SMS code checks out: a new phone creates the user, a
   * known one moves to this device (new ukey and cid; the old ukey stops working at once).
   * Malformed input is refused before any try is counted.
   */
  async register(args: RegisterArgs, ip: string | undefined): Promise<RegistrationResult> {
    const cid = checkCid(args.cid);
    const nickname = checkNickname(args.nickname);
    const publicKey = args.publicKey == null ? null : checkPublicKey(args.publicKey);
    const phone = normalizePhone(args.regionNum, args.phoneNum);
    await this.verification.verify(phone, args.verificationCode, ip);
    const ukey = randomBytes(32).toString('base64url');
    const { user } = await this.users.registerDevice({
      ...phone,
      nickname,
      cid,
      ukeyHash: hashUkey(ukey),
      publicKey,
      now: this.now(),
    });
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
    return given.length === stored.length && timingSafeEqual(given, stored) ? user : null;
  }

  /** Publishes (or replaces) the viewer's X25519 public key. */
  async setPublicKey(viewer: User, raw: string): Promise<User> {
    const user = await this.users.updatePublicKey(viewer.uid, checkPublicKey(raw), this.now());
    if (!user) throw new NotFoundError('User');
    return user;
  }

  async updateCid(viewer: User, cidRaw: string): Promise<User> {
    const user = await this.users.updateCid(viewer.uid, checkCid(cidRaw), this.now());
    if (!user) throw new NotFoundError('User');
    return user;
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
