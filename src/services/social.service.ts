import type { DiscoveryBudget } from '../adapters/discovery-budget';
import { RateLimiter, unlimited } from '../adapters/rate-limiter';
import { FriendshipState } from '../entities/friendship.entity';
import { User, WhoCanSend } from '../entities/user.entity';
import { BadInputError, ForbiddenError, NotFoundError, RateLimitedError } from '../errors';
import type { Logger } from '../logger';
import type { SocialRepository } from '../repositories/social.repository';
import type { UserRepository } from '../repositories/user.repository';
import { userKey, withinLimits } from './action-limits';
import type { DirectDelivery } from './send-audience';
import { PHONE_HASH } from './phone';
import { friendAcceptedPush, friendRequestPush } from './push.payloads';
import type { PushQueue } from './push-queue';

/** The most phone hashes one discovery call may carry. */
export const MAX_HASHES_PER_CALL = 1000;

export interface Settings {
  whoCanSendMe: WhoCanSend;
  discoverable: boolean;
  /** Whether a registration lock PIN is set (never the PIN or its hash). */
  registrationLock: boolean;
}

/** The user's settings as the API shows them. */
export function settingsOf(user: User): Settings {
  return { whoCanSendMe: user.whoCanSendMe, discoverable: user.discoverable, registrationLock: user.registrationLock != null };
}

/** What SocialService works with. */
export interface SocialServiceDeps {
  users: UserRepository;
  social: SocialRepository;
  budget: DiscoveryBudget;
  pushes: PushQueue;
  log: Logger;
  now?: () => Date;
  limiter?: RateLimiter;
}

/**
 * Friends, blocks, settings and contact discovery. A block is never revealed to the blocked
 * user: what they send or ask the blocker looks accepted, and nothing of it reaches the blocker.
 */
export class SocialService {
  private readonly users: UserRepository;
  private readonly social: SocialRepository;
  private readonly budget: DiscoveryBudget;
  private readonly pushes: PushQueue;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly limiter: RateLimiter;

  constructor(deps: SocialServiceDeps) {
    this.users = deps.users;
    this.social = deps.social;
    this.budget = deps.budget;
    this.pushes = deps.pushes;
    this.log = deps.log;
    this.now = deps.now ?? (() => new Date());
    this.limiter = deps.limiter ?? unlimited;
  }

  /**
   * The registered, discoverable users among the hashes who have not blocked the viewer. Spends
   * the distinct hashes from the viewer's daily budget; a refused or malformed call spends
   * nothing. The hashes asked are not stored.
   */
  async discoverContacts(viewer: User, phoneHashes: string[]): Promise<User[]> {
    if (phoneHashes.length > MAX_HASHES_PER_CALL) {
      throw new BadInputError(`At most ${MAX_HASHES_PER_CALL} phone hashes per call`, 'phoneHashes');
    }
    if (!phoneHashes.every((h) => PHONE_HASH.test(h))) {
      throw new BadInputError('Every phone hash must be 64 lowercase hex digits', 'phoneHashes');
    }
    const hashes = [...new Set(phoneHashes)];
    if (hashes.length === 0) return [];
    const answer = await this.budget.spend(viewer.uid, hashes.length);
    if (!answer.ok) throw new RateLimitedError(answer.retryAfterSeconds, 'The daily contact discovery budget is used up');
    try {
      return await this.social.discover(viewer.uid, hashes);
    } catch (e) {
      await this.budget.refund(viewer.uid, hashes.length).catch((err) => this.log.warn({ err }, 'could not refund discovery budget'));
      throw e;
    }
  }

  /**
   * Asks the user for friendship, or accepts their pending request. Asking again changes nothing.
   * Every call counts against the asker's daily budget, a blocked asker's too (the budget must
   * not tell a block); a request made anew to the same user (after a cancel) pushes at most once
   * a day, so that nobody's phone can be rung at will.
   */
  async requestFriend(viewer: User, uid: number): Promise<{ user: User; state: FriendshipState }> {
    const other = await this.otherUser(viewer, uid);
    const relation = await this.social.relation(viewer.uid, uid);
    if (relation.viewerBlocked) throw new ForbiddenError('You blocked this user; unblock them first');
    const outcome = await withinLimits(this.limiter, [{ rule: 'friendRequest', key: userKey(viewer.uid) }], 'friend requests', () =>
      this.social.requestFriend(viewer.uid, uid, this.now()),
    );
    if (relation.blockedByOther) {
      // Kept for the asker's outgoing list only: the blocker is never shown it nor told.
      return { user: other, state: FriendshipState.REQUESTED };
    }
    if (outcome.created && (await this.firstPushOfPair(viewer.uid, uid))) await this.push(uid, friendRequestPush(viewer));
    if (outcome.accepted) await this.push(uid, friendAcceptedPush(viewer));
    return { user: other, state: outcome.state };
  }

  /** Unfriends, declines an incoming request or cancels an outgoing one. Idempotent. */
  async removeFriend(viewer: User, uid: number): Promise<boolean> {
    await this.otherUser(viewer, uid);
    await this.social.removeFriendship(viewer.uid, uid);
    return true;
  }

  /** Ends friendship and requests both ways; from now on nothing of theirs reaches the viewer. */
  async block(viewer: User, uid: number): Promise<boolean> {
    await this.otherUser(viewer, uid);
    await withinLimits(this.limiter, [{ rule: 'block', key: userKey(viewer.uid) }], 'blocks and unblocks', () =>
      this.social.block(viewer.uid, uid, this.now()),
    );
    return true;
  }

  async unblock(viewer: User, uid: number): Promise<boolean> {
    await this.otherUser(viewer, uid);
    await withinLimits(this.limiter, [{ rule: 'block', key: userKey(viewer.uid) }], 'blocks and unblocks', () =>
      this.social.unblock(viewer.uid, uid),
    );
    return true;
  }

  /** Of these users, the viewer's friends, in one lookup: they may see each other's numbers. */
  friendsAmong(viewerUid: number, uids: number[]): Promise<Set<number>> {
    return this.social.friendsAmong(viewerUid, uids);
  }

  friends(viewer: User): Promise<User[]> {
    return this.social.listFriends(viewer.uid);
  }

  friendRequests(viewer: User): Promise<{ incoming: User[]; outgoing: User[] }> {
    return this.social.listRequests(viewer.uid);
  }

  blocked(viewer: User): Promise<User[]> {
    return this.social.listBlocked(viewer.uid);
  }

  settings(viewer: User): Settings {
    return settingsOf(viewer);
  }

  async updateSettings(viewer: User, input: Partial<Pick<Settings, 'whoCanSendMe' | 'discoverable'>>): Promise<Settings> {
    const patch: Partial<Pick<Settings, 'whoCanSendMe' | 'discoverable'>> = {};
    if (input.whoCanSendMe != null) patch.whoCanSendMe = input.whoCanSendMe;
    if (input.discoverable != null) patch.discoverable = input.discoverable;
    const user = await this.social.updateSettings(viewer.uid, patch, this.now());
    if (!user) throw new NotFoundError('User');
    return this.settings(user);
  }

  /**
   * Whether a one-to-one send may go ahead. A blocked sender is told nothing: where anyone
   * else would be refused they are refused alike, otherwise their send looks accepted and is discarded.
   */
  async directDelivery(sender: User, receiverUid: number): Promise<{ receiver: User; delivery: DirectDelivery }> {
    if (sender.uid === receiverUid) return { receiver: sender, delivery: 'deliver' };
    const found = await this.social.userWithRelation(sender.uid, receiverUid);
    if (!found) throw new NotFoundError('Receiver');
    const { user: receiver, relation } = found;
    if (relation.viewerBlocked) throw new ForbiddenError('You blocked this user; unblock them first');
    if (receiver.whoCanSendMe === WhoCanSend.FRIENDS && relation.state !== FriendshipState.FRIENDS) {
      throw new ForbiddenError('This user accepts images from friends only');
    }
    return { receiver, delivery: relation.blockedByOther ? 'discard' : 'deliver' };
  }

  /** Another user as the viewer may see them (an event names them), or null when gone. */
  person(_viewer: User, uid: number): Promise<User | null> {
    return this.users.findById(uid);
  }

  private async otherUser(viewer: User, uid: number): Promise<User> {
    if (uid === viewer.uid) throw new BadInputError('uid must be another user, not yourself', 'uid');
    const other = await this.users.findById(uid);
    if (!other) throw new NotFoundError('User');
    return other;
  }

  /** Whether this request is the first from `fromUid` to `toUid` to push today (friendRequestPush). */
  private async firstPushOfPair(fromUid: number, toUid: number): Promise<boolean> {
    try {
      return (await this.limiter.consume([{ rule: 'friendRequestPush', key: `pair:${fromUid}>${toUid}` }])).allowed;
    } catch (err) {
      // The request is written; without the counters the push goes out as it always did.
      this.log.warn({ err, receiverUid: toUid }, 'could not count a friend request push; pushing it');
      return true;
    }
  }

  /** Queued (one outbox row) before the answer; a queue that fails is logged, not the caller's problem. */
  private async push(receiverUid: number, payload: Record<string, unknown>): Promise<void> {
    await this.pushes.enqueue([{ receiverUid, payload }]).catch((err) => this.log.error({ err, receiverUid }, 'could not queue a push'));
  }
}
