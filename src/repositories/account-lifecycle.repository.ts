import type { FriendshipState } from '../entities/friendship.entity';
import type { MessageEndReason } from '../entities/message.entity';
import type { User } from '../entities/user.entity';
import type { ReceiptJobs } from './message.repository';

/** The new number of an account and the new device secret that comes with it. */
export interface NumberChange {
  regionNum: string;
  phoneNum: string;
  phoneHash: string;
  ukeyHash: string;
  now: Date;
}

export type NumberChangeOutcome = { ok: true; user: User } | { ok: false; reason: 'taken' | 'gone' };

/** What a deletion leaves to do once its transaction has committed. */
export interface AccountDeletion {
  /** False when there was no such account (deleted already). */
  found: boolean;
  /** The deleted account's phone hash ('' when none was found). */
  phoneHash: string;
  /** Blobs of the images that went with the account, to delete from the store now. */
  objectNames: string[];
  /** Rows deleted, by table, for the log. */
  counts: Record<string, number>;
}

/** Sign-out, number change and deletion: each one transaction over the account's rows. */
export interface AccountLifecycleRepository {
  /**
   * Forgets the device: cid cleared, the ukey replaced by `ukeyHash` (a secret no one holds),
   * and pending pushes to the device skipped. False when there is no such account.
   */
  signOut(uid: number, ukeyHash: string, now: Date): Promise<boolean>;
  /** Moves the account to another number with a new ukey; `taken` when that number has an account. */
  changeNumber(uid: number, change: NumberChange): Promise<NumberChangeOutcome>;
  /**
   * Deletes the account and every row that names it, in one transaction: pending images to it
   * end (`receiver_gone`, their senders get receipts), images it sent lose their keys, its
   * messages (sent and received), friendships, requests and blocks both ways, group memberships
   * (ownership passes to the longest-standing member; a group left empty goes), verification
   * codes and pushes; images left with no message go too.
   */
  deleteAccount(uid: number, now: Date, receipts?: ReceiptJobs): Promise<AccountDeletion>;
  /**
   * Deletes the pushes to other people that name this phone hash (an image or friend push
   * carries its sender's), whatever their status, in short batches; answers how many went.
   */
  forgetInPushes(phoneHash: string): Promise<number>;
}

/** Another user as an export names them: uid and nickname only. */
export interface Person {
  uid: number;
  nickname: string;
}

export interface ExportedMessage {
  id: number;
  /** The receiver of a sent message, the sender of a received one. */
  other: Person;
  groupId: number | null;
  sendTime: Date;
  exist: boolean;
  endReason: MessageEndReason | null;
  endedAt: Date | null;
  downloadedAt: Date | null;
  screenshotAt: Date | null;
  filetype: string;
  size: number;
  expiresAt: Date;
  /** When the image's key was destroyed (its last message ended). */
  imageEndedAt: Date | null;
}

export interface ExportedGroup {
  id: number;
  name: string;
  owner: Person;
  createdAt: Date;
  joinedAt: Date;
  /** Longest-standing first, the viewer included. */
  members: Person[];
}

/** Every row held about one account, as read for its export. */
export interface AccountRows {
  user: User;
  friendships: { other: Person; state: FriendshipState; requesterUid: number; createdAt: Date; updatedAt: Date }[];
  /** Blocks the account made (never those made against it: a block is not revealed). */
  blocks: { other: Person; createdAt: Date }[];
  groups: ExportedGroup[];
  sent: ExportedMessage[];
  /** Born-ended sends from users the account blocked are left out, as the API leaves them out. */
  received: ExportedMessage[];
}

export interface AccountExportRepository {
  /** Null when there is no such account. */
  rowsOf(uid: number): Promise<AccountRows | null>;
}
