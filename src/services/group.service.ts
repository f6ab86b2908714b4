import { RateLimitCharge, RateLimiter, unlimited } from '../adapters/rate-limiter';
import type { Group } from '../entities/group.entity';
import type { User } from '../entities/user.entity';
import { BadInputError, ForbiddenError, NotFoundError } from '../errors';
import type { GroupRepository } from '../repositories/group.repository';
import type { SocialRepository } from '../repositories/social.repository';
import type { UserRepository } from '../repositories/user.repository';
import { userKey, withinLimits } from './action-limits';
import { BatchLoader } from './batch.loader';
import type { GroupDelivery } from './send-audience';

export interface GroupServiceOptions {
  /** Most members a group may have, its owner included. */
  maxGroupMembers: number;
}

// Control and format characters make a name that renders as something else.
const NAME_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** What GroupService works with. */
export interface GroupServiceDeps {
  users: UserRepository;
  groups: GroupRepository;
  social: SocialRepository;
  now?: () => Date;
  limiter?: RateLimiter;
}

/**
 * Groups: an owner and up to maxGroupMembers members. A member adds its own friends; the owner
 * removes anyone; anyone leaves. A group answers NOT_FOUND to everyone who is not in it.
 */
export class GroupService {
  private readonly users: UserRepository;
  private readonly groups: GroupRepository;
  private readonly social: SocialRepository;
  private readonly now: () => Date;
  private readonly limiter: RateLimiter;

  constructor(
    deps: GroupServiceDeps,
    private readonly options: GroupServiceOptions,
  ) {
    this.users = deps.users;
    this.groups = deps.groups;
    this.social = deps.social;
    this.now = deps.now ?? (() => new Date());
    this.limiter = deps.limiter ?? unlimited;
  }

  /** Counts against the owner's daily groups, and each member against its daily members added. */
  async createGroup(viewer: User, nameRaw: string, memberUids: number[]): Promise<Group> {
    const name = checkName(nameRaw);
    const uids = [...new Set(memberUids)].filter((uid) => uid !== viewer.uid);
    this.checkSize(1 + uids.length);
    await this.checkAddable(viewer, uids);
    const charges: RateLimitCharge[] = [{ rule: 'groupCreate', key: userKey(viewer.uid) }];
    if (uids.length) charges.push(this.membersAdded(viewer, uids.length));
    return withinLimits(this.limiter, charges, 'groups or group members', () => this.groups.create(viewer.uid, name, uids, this.now()));
  }

  /** Each member added counts against the adder's daily members added; one already in costs nothing. */
  async addMembers(viewer: User, groupId: number, uids: number[]): Promise<Group> {
    const group = await this.memberGroup(viewer, groupId);
    const present = new Set(group.members.map((m) => m.uid));
    const fresh = [...new Set(uids)].filter((uid) => !present.has(uid));
    if (fresh.length === 0) return group;
    this.checkSize(present.size + fresh.length);
    await this.checkAddable(viewer, fresh);
    return withinLimits(this.limiter, [this.membersAdded(viewer, fresh.length)], 'group members added', async () => {
      const outcome = await this.groups.addMembers(groupId, fresh, this.options.maxGroupMembers, this.now());
      if (outcome.ok) return outcome.group;
      throw outcome.reason === 'gone' ? new NotFoundError('Group') : this.tooLarge();
    });
  }

  private membersAdded(viewer: User, n: number): RateLimitCharge {
    return { rule: 'groupMemberAdd', key: userKey(viewer.uid), points: n };
  }

  /** The owner removes anyone; a member removes only itself (leaves). */
  async removeMember(viewer: User, groupId: number, uid: number): Promise<Group> {
    const group = await this.memberGroup(viewer, groupId);
    if (uid !== viewer.uid) {
      if (group.ownerUid !== viewer.uid) throw new ForbiddenError('Only the owner removes other members');
      if (!group.members.some((m) => m.uid === uid)) throw new NotFoundError('Member');
    }
    return (await this.groups.removeMember(groupId, uid)).group;
  }

  listGroups(viewer: User): Promise<Group[]> {
    return this.groups.listForUser(viewer.uid);
  }

  /**
   * Groups as a request's viewer sees them: to its members only, null for anyone else. The
   * groups asked for in one tick (a listing's messages) are read in one query, each group once.
   */
  visibleGroupLoader(viewer: User): BatchLoader<number, Group | null> {
    return new BatchLoader(async (ids) => new Map((await this.groups.findManyForMember(ids, viewer.uid)).map((g) => [g.id, g])), null);
  }

  /**
   * Who a group send goes to: every other member, those who blocked the sender apart (their
   * messages are born ended). Membership is consent: whoCanSendMe does not apply here.
   */
  async groupDelivery(sender: User, groupId: number): Promise<GroupDelivery> {
    const members = await this.groups.membersForSend(groupId, sender.uid);
    if (!members) throw new NotFoundError('Group');
    const others = members.filter((m) => m.uid !== sender.uid);
    return {
      groupId,
      deliver: others.filter((m) => !m.blocksSender).map((m) => m.uid),
      discard: others.filter((m) => m.blocksSender).map((m) => m.uid),
    };
  }

  private async memberGroup(viewer: User, groupId: number): Promise<Group> {
    const group = await this.groups.findForMember(groupId, viewer.uid);
    if (!group) throw new NotFoundError('Group');
    return group;
  }

  private checkSize(members: number): void {
    if (members > this.options.maxGroupMembers) throw this.tooLarge();
  }

  private tooLarge(): BadInputError {
    return new BadInputError(`A group has at most ${this.options.maxGroupMembers} members`, 'memberUids');
  }

  /** Every uid must exist (NOT_FOUND) and be a friend of the one adding (FORBIDDEN). */
  private async checkAddable(viewer: User, uids: number[]): Promise<void> {
    if (uids.length === 0) return;
    const existing = new Set((await this.users.findByIds(uids)).map((u) => u.uid));
    if (uids.some((uid) => !existing.has(uid))) throw new NotFoundError('User');
    const friends = await this.social.friendsAmong(viewer.uid, uids);
    if (uids.some((uid) => !friends.has(uid))) throw new ForbiddenError('Only your friends can be added to a group');
  }
}

function checkName(raw: string): string {
  const name = raw.trim().normalize('NFC');
  const length = [...name].length;
  if (length < 1 || length > 64) throw new BadInputError('name must be 1 to 64 characters after trimming', 'name');
  if (NAME_FORBIDDEN.test(name)) throw new BadInputError('name must not contain control characters', 'name');
  return name;
}
