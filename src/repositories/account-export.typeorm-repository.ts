import { DataSource, In } from 'typeorm';
import { Friendship } from '../entities/friendship.entity';
import { Group, GroupMember } from '../entities/group.entity';
import { Message } from '../entities/message.entity';
import { UserBlock } from '../entities/user-block.entity';
import { User } from '../entities/user.entity';
import type { AccountExportRepository, AccountRows, ExportedMessage, Person } from './account-lifecycle.repository';

/** Reads every row that names one account, for its data export. */
export class TypeormAccountExportRepository implements AccountExportRepository {
  constructor(private readonly db: DataSource) {}

  async rowsOf(uid: number): Promise<AccountRows | null> {
    const user = await this.db.getRepository(User).findOneBy({ uid });
    if (!user) return null;
    const friendshipRows = await this.db
      .getRepository(Friendship)
      .createQueryBuilder('f')
      .where('f.user_low = :uid OR f.user_high = :uid', { uid })
      .orderBy('f.id', 'ASC')
      .getMany();
    const blockRows = await this.db.getRepository(UserBlock).find({ where: { blockerUid: uid }, order: { createdAt: 'ASC' } });
    const memberships = await this.db.getRepository(GroupMember).find({ where: { userUid: uid }, order: { id: 'ASC' } });
    const groups = memberships.length
      ? await this.db
          .getRepository(Group)
          .createQueryBuilder('g')
          .leftJoinAndSelect('g.memberships', 'gm')
          .where('g.id IN (:...ids)', { ids: memberships.map((m) => m.groupId) })
          .orderBy('g.id', 'ASC')
          .addOrderBy('gm.id', 'ASC')
          .getMany()
      : [];
    const sent = await this.messages('m.sender_uid = :uid', uid);
    const received = await this.messages("m.receiver_uid = :uid AND (m.end_reason IS NULL OR m.end_reason <> 'blocked')", uid);

    const otherOf = (f: Friendship) => (f.userLow === uid ? f.userHigh : f.userLow);
    const people = await this.people([
      ...friendshipRows.map(otherOf),
      ...blockRows.map((b) => b.blockedUid),
      ...groups.flatMap((g) => [g.ownerUid, ...g.memberships.map((m) => m.userUid)]),
      ...sent.map((m) => m.receiverUid),
      ...received.map((m) => m.senderUid),
    ]);
    const person = (id: number): Person => people.get(id) ?? { uid: id, nickname: '' };
    const exported = (m: Message, other: number): ExportedMessage => ({
      id: m.id,
      other: person(other),
      groupId: m.groupId,
      sendTime: m.sendTime,
      exist: m.exist,
      endReason: m.endReason,
      endedAt: m.endedAt,
      downloadedAt: m.downloadedAt,
      screenshotAt: m.screenshotAt,
      filetype: m.image.filetype,
      size: m.image.size,
      expiresAt: m.image.expiresAt,
      imageEndedAt: m.image.endedAt,
    });
    const joined = new Map(memberships.map((m) => [m.groupId, m.joinedAt]));
    return {
      user,
      friendships: friendshipRows.map((f) => ({
        other: person(otherOf(f)),
        state: f.state,
        requesterUid: f.requesterUid,
        createdAt: f.createdAt,
        updatedAt: f.updatedAt,
      })),
      blocks: blockRows.map((b) => ({ other: person(b.blockedUid), createdAt: b.createdAt })),
      groups: groups.map((g) => ({
        id: g.id,
        name: g.name,
        owner: person(g.ownerUid),
        createdAt: g.createdAt,
        joinedAt: joined.get(g.id)!,
        members: g.memberships.map((m) => person(m.userUid)),
      })),
      sent: sent.map((m) => exported(m, m.receiverUid)),
      received: received.map((m) => exported(m, m.senderUid)),
    };
  }

  /** Messages with their image's facts (type, size, expiry; never its key, name or hash), oldest first. */
  private messages(where: string, uid: number): Promise<Message[]> {
    return this.db
      .getRepository(Message)
      .createQueryBuilder('m')
      .innerJoin('m.image', 'i')
      .addSelect(['i.id', 'i.filetype', 'i.size', 'i.expiresAt', 'i.endedAt'])
      .where(where, { uid })
      .orderBy('m.id', 'ASC')
      .getMany();
  }

  /** uid and nickname of each of these users, nothing more. */
  private async people(uids: number[]): Promise<Map<number, Person>> {
    const ids = [...new Set(uids)];
    const found = new Map<number, Person>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .getRepository(User)
        .find({ select: { uid: true, nickname: true }, where: { uid: In(ids.slice(i, i + 500)) } });
      for (const r of rows) found.set(r.uid, { uid: r.uid, nickname: r.nickname });
    }
    return found;
  }
}
