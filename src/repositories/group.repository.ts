import type { Group } from '../entities/group.entity';

export interface GroupSendMember {
  uid: number;
  blocksSender: boolean;
}

export type AddMembersOutcome = { ok: true; group: Group } | { ok: false; reason: 'full' | 'gone' };

export interface RemoveMemberOutcome {
  /** The group as it stands after the call (no members once it was deleted). */
  group: Group;
  removed: boolean;
  deleted: boolean;
}

/** Groups and memberships. Every returned Group has its owner and members (with users) loaded. */
export interface GroupRepository {
  /** Writes the group and its members (the owner first) in one transaction. */
  create(ownerUid: number, name: string, memberUids: number[], now: Date): Promise<Group>;
  /** The group, only when `uid` is a member of it. */
  findForMember(groupId: number, uid: number): Promise<Group | null>;
  /** Of these groups, those `uid` is a member of. */
  findManyForMember(groupIds: number[], uid: number): Promise<Group[]>;
  /**
   * Adds members not yet in the group, keeping the group at `maxMembers` at most; the check and
   * the insert share a lock on the group, so concurrent adds cannot pass the limit together.
   */
  addMembers(groupId: number, uids: number[], maxMembers: number, now: Date): Promise<AddMembersOutcome>;
  /**
   * Removes a member. When the owner goes, the longest-standing member becomes owner; a group
   * left empty is deleted.
   */
  removeMember(groupId: number, uid: number): Promise<RemoveMemberOutcome>;
  listForUser(uid: number): Promise<Group[]>;
  /**
   * Who a send by `senderUid` would reach: every member, longest-standing first, each with
   * whether it blocked the sender; null when the sender is not a member. One round trip, as
   * every group send asks.
   */
  membersForSend(groupId: number, senderUid: number): Promise<GroupSendMember[] | null>;
}
