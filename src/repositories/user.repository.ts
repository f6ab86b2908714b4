import type { Image } from '../entities/image.entity';
import type { User } from '../entities/user.entity';
import type { ReceiptJobs } from './message.repository';
import type { NewPushJob } from './push-job.repository';

export interface DeviceRegistration {
  phoneHash: string;
  regionNum: string;
  phoneNum: string;
  nickname: string;
  cid: string;
  ukeyHash: string;
  /** The new device's public key, or null: a key of the old device must not outlive the move. */
  publicKey?: string | null;
  now: Date;
  /**
   * The caller has just found the phone registered: the move is tried first, without the insert
   * that would only fail on the unique phone hash (a round trip and a duplicate-key error).
   */
  known?: boolean;
}

/** What moving a known number to a new device does besides binding the account to it. */
export interface AccountMove {
  /** Runs on the account's row, locked for the move, before anything changes; throwing cancels the move. */
  check(current: User): void;
  /** Pushes written with the move, built from the account as it was (the old device's notice). */
  notices(previous: User): NewPushJob[];
  /** Receipts for the senders of the pending images the move destroys. */
  receipts?: ReceiptJobs;
}

/** An image whose last live message a move ended: its key is gone and its blob is to be deleted. */
export type EndedImage = Pick<Image, 'id' | 'objectName'>;

export interface DeviceRegistered {
  user: User;
  created: boolean;
  /** For a move: images that ended with it (their blobs are still to be deleted). */
  endedImages: EndedImage[];
}

/** Where users live. The service holds the rules; this only reads and writes rows. */
export interface UserRepository {
  findById(uid: number): Promise<User | null>;
  /** The users among these ids that exist. */
  findByIds(uids: number[]): Promise<User[]>;
  findByPhoneHash(phoneHash: string): Promise<User | null>;
  /**
   * Creates the user, or moves the existing one to the new device; safe under concurrent calls.
   * A move, in one transaction: `move.check` on the locked row, the new device (ukey, cid, public
   * key), every pending message to the account ended as `account_moved` (an image whose last
   * live message that was loses its key, and its senders get receipts), and `move.notices`.
   */
  registerDevice(reg: DeviceRegistration, move?: AccountMove): Promise<DeviceRegistered>;
  updateCid(uid: number, cid: string, now: Date): Promise<User | null>;
  updatePublicKey(uid: number, publicKey: string, now: Date): Promise<User | null>;
  /** Stores the lock PIN's hash, or null to remove the lock. */
  updateRegistrationLock(uid: number, lock: string | null, now: Date): Promise<User | null>;
  /** Records an authenticated request, unless one after `staleBefore` is recorded already. */
  touchSeen(uid: number, now: Date, staleBefore: Date): Promise<void>;
}
