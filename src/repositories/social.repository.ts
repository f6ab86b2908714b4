import type { FriendshipState } from '../entities/friendship.entity';
import type { User, WhoCanSend } from '../entities/user.entity';

/** How two users stand to each other, as seen from `viewer`. */
export interface Relation {
  /** The pair's friendship or pending request, if any. */
  state: FriendshipState | null;
  /** Who asked, when there is a row. */
  requesterUid: number | null;
  /** The viewer blocked the other user. */
  viewerBlocked: boolean;
  /** The other user blocked the viewer. */
  blockedByOther: boolean;
}

export interface FriendRequestOutcome {
  state: FriendshipState;
  /** A new request row was written (the other user should hear of it). */
  created: boolean;
  /** The other user's request was accepted by this call. */
  accepted: boolean;
}

export interface SettingsPatch {
  whoCanSendMe?: WhoCanSend;
  discoverable?: boolean;
}

/** Friendships, blocks, settings and discovery. Lists of users come oldest relation first. */
export interface SocialRepository {
  relation(viewerUid: number, otherUid: number): Promise<Relation>;
  /** The user `otherUid` and how they stand to the viewer, in one read; null when there is no such user. */
  userWithRelation(viewerUid: number, otherUid: number): Promise<{ user: User; relation: Relation } | null>;
  /**
   * Asks `toUid` for friendship, or accepts `toUid`'s pending request, in one transaction.
   * Safe under concurrent calls: the pair's unique key leaves one row whatever the interleaving.
   */
  requestFriend(fromUid: number, toUid: number, now: Date): Promise<FriendRequestOutcome>;
  /** Deletes the pair's friendship or request, whoever asked. */
  removeFriendship(a: number, b: number): Promise<void>;
  /** Records the block and ends the pair's friendship and requests, in one transaction. */
  block(blockerUid: number, blockedUid: number, now: Date): Promise<void>;
  unblock(blockerUid: number, blockedUid: number): Promise<void>;
  listFriends(uid: number): Promise<User[]>;
  /** Pending requests, newest first; incoming ones from users the viewer blocked are left out. */
  listRequests(uid: number): Promise<{ incoming: User[]; outgoing: User[] }>;
  listBlocked(uid: number): Promise<User[]>;
  /** Of `candidates`, those who are friends of `uid`. */
  friendsAmong(uid: number, candidates: number[]): Promise<Set<number>>;
  /** Registered, discoverable users with these phone hashes who have not blocked the viewer. */
  discover(viewerUid: number, phoneHashes: string[]): Promise<User[]>;
  updateSettings(uid: number, patch: SettingsPatch, now: Date): Promise<User | null>;
}
