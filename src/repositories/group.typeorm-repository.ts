import { DataSource, EntityManager, In } from 'typeorm';
import { Group, GroupMember } from '../entities/group.entity';
import { inTransaction } from '../database';
import type { AddMembersOutcome, GroupRepository, GroupSendMember, RemoveMemberOutcome } from './group.repository';

export class TypeormGroupRepository implements GroupRepository {
  private readonly lock: 'pessimistic_write' | undefined;

  constructor(private readonly db: DataSource) {
    this.lock = db.options.type === 'mysql' ? 'pessimistic_write' : undefined;
  }

  private withMembers(m: EntityManager = this.db.manager) {
    return m
      .getRepository(Group)
      .createQueryBuilder('g')
      .innerJoinAndSelect('g.owner', 'o')
      .leftJoinAndSelect('g.memberships', 'gm')
      .leftJoinAndSelect('gm.user', 'mu')
      .orderBy('g.id', 'ASC')
      .addOrderBy('gm.id', 'ASC');
  }

  /** Locks the group row so that membership changes to one group run one after another. */
  private lockGroup(tx: EntityManager, groupId: number) {
    return tx
      .getRepository(Group)
      .createQueryBuilder('g')
      .where('g.id = :groupId', { groupId })
      .setLock(this.lock as 'pessimistic_write')
      .getOne();
  }

  create(ownerUid: number, name: string, memberUids: number[], now: Date): Promise<Group> {
    return inTransaction(this.db, async (tx) => {
      const group = tx.getRepository(Group).create({ name, ownerUid, createdAt: now });
      await tx.getRepository(Group).insert(group);
      const rows = [ownerUid, ...memberUids].map((userUid) => ({ groupId: group.id, userUid, joinedAt: now }));
      await tx.createQueryBuilder().insert().into(GroupMember).values(rows).updateEntity(false).execute();
      return this.withMembers(tx).where('g.id = :id', { id: group.id }).getOneOrFail();
    });
  }

  findForMember(groupId: number, uid: number): Promise<Group | null> {
    return this.withMembers()
      .where('g.id = :groupId', { groupId })
      .andWhere('EXISTS (SELECT 1 FROM group_member x WHERE x.group_id = g.id AND x.user_uid = :uid)', { uid })
      .getOne();
  }

  findManyForMember(groupIds: number[], uid: number): Promise<Group[]> {
    if (groupIds.length === 0) return Promise.resolve([]);
    return this.withMembers()
      .where('g.id IN (:...groupIds)', { groupIds })
      .andWhere('EXISTS (SELECT 1 FROM group_member x WHERE x.group_id = g.id AND x.user_uid = :uid)', { uid })
      .getMany();
  }

  addMembers(groupId: number, uids: number[], maxMembers: number, now: Date): Promise<AddMembersOutcome> {
    return inTransaction(this.db, async (tx): Promise<AddMembersOutcome> => {
      if (!(await this.lockGroup(tx, groupId))) return { ok: false, reason: 'gone' };
      const present = new Set(
        (await tx.getRepository(GroupMember).find({ select: { userUid: true }, where: { groupId } })).map((m) => m.userUid),
      );
      const fresh = [...new Set(uids)].filter((uid) => !present.has(uid));
      if (present.size + fresh.length > maxMembers) return { ok: false, reason: 'full' };
      if (fresh.length) {
        await tx
          .createQueryBuilder()
          .insert()
          .into(GroupMember)
          .values(fresh.map((userUid) => ({ groupId, userUid, joinedAt: now })))
          .orIgnore()
          .updateEntity(false)
          .execute();
      }
      return { ok: true, group: await this.withMembers(tx).where('g.id = :groupId', { groupId }).getOneOrFail() };
    });
  }

  removeMember(groupId: number, uid: number): Promise<RemoveMemberOutcome> {
    return inTransaction(this.db, async (tx): Promise<RemoveMemberOutcome> => {
      const load = () => this.withMembers(tx).where('g.id = :groupId', { groupId }).getOne();
      if (!(await this.lockGroup(tx, groupId))) throw new Error(`group ${groupId} vanished`);
      const before = (await load())!;
      const removed = ((await tx.getRepository(GroupMember).delete({ groupId, userUid: uid })).affected ?? 0) > 0;
      if (!removed) return { group: before, removed, deleted: false };
      const next = await tx.getRepository(GroupMember).findOne({ where: { groupId }, order: { id: 'ASC' } });
      if (!next) {
        await tx.getRepository(Group).delete({ id: groupId });
        before.memberships = [];
        return { group: before, removed, deleted: true };
      }
      if (before.ownerUid === uid) await tx.getRepository(Group).update({ id: groupId }, { ownerUid: next.userUid });
      return { group: (await load())!, removed, deleted: false };
    });
  }

  async listForUser(uid: number): Promise<Group[]> {
    const ids = (await this.db.getRepository(GroupMember).find({ select: { groupId: true }, where: { userUid: uid } })).map(
      (m) => m.groupId,
    );
    if (ids.length === 0) return [];
    return this.withMembers()
      .where({ id: In(ids) })
      .getMany();
  }

  async membersForSend(groupId: number, senderUid: number): Promise<GroupSendMember[] | null> {
    const rows: { uid: number | string; blocks: number | string }[] = await this.db.query(
      `SELECT gm.user_uid AS uid,
         EXISTS (SELECT 1 FROM user_block b WHERE b.blocker_uid = gm.user_uid AND b.blocked_uid = ?) AS blocks
       FROM group_member gm WHERE gm.group_id = ? ORDER BY gm.id`,
      [senderUid, groupId],
    );
    const members = rows.map((r) => ({ uid: Number(r.uid), blocksSender: Number(r.blocks) > 0 }));
    return members.some((m) => m.uid === senderUid) ? members : null;
  }
}
