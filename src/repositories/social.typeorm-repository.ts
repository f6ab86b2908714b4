import { Brackets, DataSource, EntityManager, In, InsertQueryBuilder, ObjectLiteral } from 'typeorm';
import { Friendship, FriendshipState, pairOf } from '../entities/friendship.entity';
import { UserBlock } from '../entities/user-block.entity';
import { User } from '../entities/user.entity';
import { inTransaction } from '../database';
import type { FriendRequestOutcome, Relation, SettingsPatch, SocialRepository } from './social.repository';

/**
 * Runs an INSERT (IGNORE) built with the query builder and tells how many rows it wrote: the
 * builder's own result carries no row count on SQLite.
 */
export async function insertCount(tx: EntityManager, insert: InsertQueryBuilder<ObjectLiteral>): Promise<number> {
  const [sql, parameters] = insert.getQueryAndParameters();
  const result = await tx.queryRunner!.query(sql, parameters, true);
  return result.affected ?? 0;
}

function relationOf(row: Record<string, unknown> | undefined): Relation {
  return {
    state: (row?.state as FriendshipState | null) ?? null,
    requesterUid: row?.requester == null ? null : Number(row.requester),
    viewerBlocked: Number(row?.viewer_blocked ?? 0) > 0,
    blockedByOther: Number(row?.blocked_by_other ?? 0) > 0,
  };
}

export class TypeormSocialRepository implements SocialRepository {
  private readonly lock: 'pessimistic_write' | undefined;

  constructor(private readonly db: DataSource) {
    this.lock = db.options.type === 'mysql' ? 'pessimistic_write' : undefined;
  }

  async relation(viewerUid: number, otherUid: number): Promise<Relation> {
    const { userLow, userHigh } = pairOf(viewerUid, otherUid);
    // One round trip: a send asks this on every call.
    const [row] = await this.db.query(
      `SELECT f.state AS state, f.requester_uid AS requester,
         (SELECT COUNT(*) FROM user_block b WHERE b.blocker_uid = ? AND b.blocked_uid = ?) AS viewer_blocked,
         (SELECT COUNT(*) FROM user_block b WHERE b.blocker_uid = ? AND b.blocked_uid = ?) AS blocked_by_other
       FROM (SELECT 1 AS one) x LEFT JOIN friendship f ON f.user_low = ? AND f.user_high = ?`,
      [viewerUid, otherUid, otherUid, viewerUid, userLow, userHigh],
    );
    return relationOf(row);
  }

  async userWithRelation(viewerUid: number, otherUid: number): Promise<{ user: User; relation: Relation } | null> {
    const { userLow, userHigh } = pairOf(viewerUid, otherUid);
    // One round trip: a send needs its receiver and how the two stand.
    const { entities, raw } = await this.db
      .getRepository(User)
      .createQueryBuilder('u')
      .leftJoin(Friendship, 'f', 'f.user_low = :userLow AND f.user_high = :userHigh', { userLow, userHigh })
      .addSelect('f.state', 'state')
      .addSelect('f.requester_uid', 'requester')
      .addSelect('(SELECT COUNT(*) FROM user_block b WHERE b.blocker_uid = :viewerUid AND b.blocked_uid = :otherUid)', 'viewer_blocked')
      .addSelect('(SELECT COUNT(*) FROM user_block b WHERE b.blocker_uid = :otherUid AND b.blocked_uid = :viewerUid)', 'blocked_by_other')
      .where('u.uid = :otherUid', { viewerUid, otherUid })
      .getRawAndEntities();
    return entities.length ? { user: entities[0], relation: relationOf(raw[0]) } : null;
  }

  requestFriend(fromUid: number, toUid: number, now: Date): Promise<FriendRequestOutcome> {
    const pair = pairOf(fromUid, toUid);
    return inTransaction(this.db, async (tx) => {
      // INSERT IGNORE / INSERT OR IGNORE: of two concurrent first requests, one writes the row
      // and the other waits for it and then finds it, so the pair never has two rows.
      const created =
        (await insertCount(
          tx,
          tx
            .createQueryBuilder()
            .insert()
            .into(Friendship)
            .values({ ...pair, requesterUid: fromUid, state: FriendshipState.REQUESTED, createdAt: now, updatedAt: now })
            .orIgnore(),
        )) > 0;
      const row = await tx
        .getRepository(Friendship)
        .createQueryBuilder('f')
        .where('f.user_low = :userLow AND f.user_high = :userHigh', pair)
        .setLock(this.lock as 'pessimistic_write')
        .getOneOrFail();
      if (row.state === FriendshipState.FRIENDS) return { state: row.state, created: false, accepted: false };
      if (row.requesterUid === fromUid) return { state: row.state, created, accepted: false };
      await tx.getRepository(Friendship).update({ id: row.id }, { state: FriendshipState.FRIENDS, updatedAt: now });
      return { state: FriendshipState.FRIENDS, created: false, accepted: true };
    });
  }

  async removeFriendship(a: number, b: number): Promise<void> {
    await this.db.getRepository(Friendship).delete(pairOf(a, b));
  }

  block(blockerUid: number, blockedUid: number, now: Date): Promise<void> {
    return inTransaction(this.db, async (tx) => {
      await tx
        .createQueryBuilder()
        .insert()
        .into(UserBlock)
        .values({ blockerUid, blockedUid, createdAt: now })
        .orIgnore()
        .updateEntity(false)
        .execute();
      await tx.getRepository(Friendship).delete(pairOf(blockerUid, blockedUid));
    });
  }

  async unblock(blockerUid: number, blockedUid: number): Promise<void> {
    await this.db.getRepository(UserBlock).delete({ blockerUid, blockedUid });
  }

  /**
   * The other side of each of the user's friendship rows in one state, most recent first. Two
   * index range reads (user_low = uid, user_high = uid) rather than one OR that defeats the indexes.
   */
  private async others(uid: number, state: FriendshipState): Promise<{ other: number; requester: number }[]> {
    const rows: { other: number | string; requester: number | string }[] = await this.db.query(
      `SELECT other, requester FROM (
         SELECT f.user_high AS other, f.requester_uid AS requester, f.updated_at AS at, f.id AS id FROM friendship f WHERE f.user_low = ? AND f.state = ?
         UNION ALL
         SELECT f.user_low AS other, f.requester_uid AS requester, f.updated_at AS at, f.id AS id FROM friendship f WHERE f.user_high = ? AND f.state = ?
       ) x ORDER BY at DESC, id DESC`,
      [uid, state, uid, state],
    );
    return rows.map((r) => ({ other: Number(r.other), requester: Number(r.requester) }));
  }

  private async usersInOrder(uids: number[]): Promise<User[]> {
    if (uids.length === 0) return [];
    const found = await this.db.getRepository(User).findBy({ uid: In(uids) });
    const byId = new Map(found.map((u) => [u.uid, u]));
    return uids.map((id) => byId.get(id)).filter((u): u is User => u !== undefined);
  }

  async listFriends(uid: number): Promise<User[]> {
    return this.usersInOrder((await this.others(uid, FriendshipState.FRIENDS)).map((r) => r.other));
  }

  async listRequests(uid: number): Promise<{ incoming: User[]; outgoing: User[] }> {
    const rows = await this.others(uid, FriendshipState.REQUESTED);
    const incomingFrom = rows.filter((r) => r.requester !== uid).map((r) => r.other);
    // A blocked user's requests are kept for their own outgoing list but never shown to the blocker.
    const blocked = incomingFrom.length
      ? new Set((await this.db.getRepository(UserBlock).findBy({ blockerUid: uid, blockedUid: In(incomingFrom) })).map((b) => b.blockedUid))
      : new Set<number>();
    const users = await this.usersInOrder(rows.map((r) => r.other));
    const byId = new Map(users.map((u) => [u.uid, u]));
    const pick = (ids: number[]) => ids.map((id) => byId.get(id)).filter((u): u is User => u !== undefined);
    return {
      incoming: pick(incomingFrom.filter((id) => !blocked.has(id))),
      outgoing: pick(rows.filter((r) => r.requester === uid).map((r) => r.other)),
    };
  }

  listBlocked(uid: number): Promise<User[]> {
    return this.db
      .getRepository(User)
      .createQueryBuilder('u')
      .innerJoin(UserBlock, 'b', 'b.blocked_uid = u.id AND b.blocker_uid = :uid', { uid })
      .orderBy('b.created_at', 'DESC')
      .getMany();
  }

  async friendsAmong(uid: number, candidates: number[]): Promise<Set<number>> {
    if (candidates.length === 0) return new Set();
    const rows = await this.db
      .getRepository(Friendship)
      .createQueryBuilder('f')
      .select(['f.userLow', 'f.userHigh'])
      .where('f.state = :state', { state: FriendshipState.FRIENDS })
      .andWhere(
        new Brackets((b) =>
          b
            .where('f.user_low = :uid AND f.user_high IN (:...candidates)', { uid, candidates })
            .orWhere('f.user_high = :uid AND f.user_low IN (:...candidates)', { uid, candidates }),
        ),
      )
      .getMany();
    return new Set(rows.map((f) => (f.userLow === uid ? f.userHigh : f.userLow)));
  }

  discover(viewerUid: number, phoneHashes: string[]): Promise<User[]> {
    if (phoneHashes.length === 0) return Promise.resolve([]);
    // One lookup per hash in an index that holds every column asked for (the id comes with it),
    // however many users there are. MySQL's planner prefers the unique phone_hash index, which
    // would read each matching row as well: it is told which index to use.
    return this.db
      .getRepository(User)
      .createQueryBuilder('u')
      .useIndex('idx_user_discovery')
      .select(['u.uid', 'u.nickname', 'u.regionNum', 'u.phoneHash', 'u.regTime'])
      .where('u.phone_hash IN (:...phoneHashes)', { phoneHashes })
      .andWhere('u.discoverable = :yes AND u.id <> :viewerUid', { yes: true, viewerUid })
      .andWhere('NOT EXISTS (SELECT 1 FROM user_block b WHERE b.blocker_uid = u.id AND b.blocked_uid = :viewerUid)', { viewerUid })
      .orderBy('u.id', 'ASC')
      .getMany();
  }

  async updateSettings(uid: number, patch: SettingsPatch, now: Date): Promise<User | null> {
    const set: Partial<User> = { updatedAt: now };
    if (patch.whoCanSendMe !== undefined) set.whoCanSendMe = patch.whoCanSendMe;
    if (patch.discoverable !== undefined) set.discoverable = patch.discoverable;
    await this.db.getRepository(User).update({ uid }, set);
    return this.db.getRepository(User).findOneBy({ uid });
  }
}
