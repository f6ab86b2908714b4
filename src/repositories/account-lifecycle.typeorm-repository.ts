import { Brackets, DataSource, EntityManager, In } from 'typeorm';
import { deleteBatch, inTransaction, isUniqueViolation } from '../database';
import { DownloadGrant } from '../entities/download-grant.entity';
import { Friendship } from '../entities/friendship.entity';
import { Group, GroupMember } from '../entities/group.entity';
import { Image } from '../entities/image.entity';
import { Message } from '../entities/message.entity';
import { PushJob } from '../entities/push-job.entity';
import { UserBlock } from '../entities/user-block.entity';
import { User } from '../entities/user.entity';
import { VerificationCode } from '../entities/verification-code.entity';
import type { AccountDeletion, AccountLifecycleRepository, NumberChange, NumberChangeOutcome } from './account-lifecycle.repository';
import type { DestroyedMessage, ReceiptJobs } from './message.repository';
import { endPendingMessages } from './message.typeorm-repository';
import { insertPushJobs } from './push-job.typeorm-repository';

/** Ids per IN list, so that an account with a long history never makes one huge statement. */
const CHUNK = 500;

export class TypeormAccountLifecycleRepository implements AccountLifecycleRepository {
  private readonly mysql: boolean;

  constructor(private readonly db: DataSource) {
    this.mysql = db.options.type === 'mysql';
  }

  signOut(uid: number, ukeyHash: string, now: Date): Promise<boolean> {
    return inTransaction(this.db, async (tx) => {
      const done = await tx.getRepository(User).update({ uid }, { cid: null, ukeyHash, updatedAt: now });
      if (!done.affected) return false;
      // Pushes waiting for this device would go to whichever device registers the number next.
      // Notices addressed to an earlier device by its own cid (an account move) still go.
      await tx
        .createQueryBuilder()
        .update(PushJob)
        .set({ status: 'skipped', lastError: 'the receiver signed out', updatedAt: now })
        .where("receiver_uid = :uid AND status = 'pending' AND cid IS NULL", { uid })
        .execute();
      return true;
    });
  }

  async changeNumber(uid: number, change: NumberChange): Promise<NumberChangeOutcome> {
    const users = this.db.getRepository(User);
    const { regionNum, phoneNum, phoneHash, ukeyHash, now } = change;
    try {
      const done = await users.update({ uid }, { regionNum, phoneNum, phoneHash, ukeyHash, updatedAt: now, lastSeenAt: now });
      if (!done.affected) return { ok: false, reason: 'gone' };
    } catch (e) {
      // Registered by someone else since the service looked: the unique phone_hash settles it.
      if (isUniqueViolation(e)) return { ok: false, reason: 'taken' };
      throw e;
    }
    const user = await users.findOneBy({ uid });
    return user ? { ok: true, user } : { ok: false, reason: 'gone' };
  }

  deleteAccount(uid: number, now: Date, receipts?: ReceiptJobs): Promise<AccountDeletion> {
    return inTransaction(this.db, async (tx) => {
      const q = tx.getRepository(User).createQueryBuilder('u').where('u.id = :uid', { uid });
      if (this.mysql) q.setLock('pessimistic_write');
      const user = await q.getOne();
      if (!user) return { found: false, phoneHash: '', objectNames: [], counts: {} };
      const counts: Record<string, number> = {};

      // Images addressed to the account: destroyed as a move destroys them; senders get receipts
      // (their payloads carry everything a receipt needs, so the rows may go below).
      await endPendingMessages(tx, uid, 'receiver_gone', now, receipts);
      // A group image others still have keeps its key, and would write its receipts when the
      // last member is done, from rows that are about to go: the account's copies get theirs now.
      if (receipts) await insertPushJobs(tx, receipts(await copiesOfLiveImages(tx, uid, now)), now);
      // Images it sent: every message of such an image is the account's, so each image goes
      // whole below, its key with its row.
      const mine = new Brackets((b) => b.where('m.sender_uid = :uid', { uid }).orWhere('m.receiver_uid = :uid', { uid }));
      const imageIds = (
        await tx
          .getRepository(Message)
          .createQueryBuilder('m')
          .select('DISTINCT m.image_id', 'imageId')
          .where(mine)
          .getRawMany<{ imageId: number | string }>()
      ).map((r) => Number(r.imageId));
      // The table name escaped: bare, TypeORM would take it for DownloadGrant's `message` relation.
      const messageTable = tx.connection.driver.escape('message');
      counts.downloadGrants = await affected(
        tx
          .createQueryBuilder()
          .delete()
          .from(DownloadGrant)
          .where(`message_id IN (SELECT m.id FROM ${messageTable} m WHERE m.sender_uid = :uid OR m.receiver_uid = :uid)`, { uid })
          .execute(),
      );
      counts.messages = await affected(
        tx.createQueryBuilder().delete().from(Message).where('sender_uid = :uid OR receiver_uid = :uid', { uid }).execute(),
      );
      const objectNames = await deleteUnreferencedImages(tx, imageIds);
      counts.images = objectNames.deleted;

      counts.friendships = await affected(
        tx
          .createQueryBuilder()
          .delete()
          .from(Friendship)
          .where('user_low = :uid OR user_high = :uid OR requester_uid = :uid', { uid })
          .execute(),
      );
      counts.blocks = await affected(
        tx.createQueryBuilder().delete().from(UserBlock).where('blocker_uid = :uid OR blocked_uid = :uid', { uid }).execute(),
      );
      const groups = await this.leaveGroups(tx, uid);
      counts.groupsLeft = groups.left;
      counts.groupsDeleted = groups.deleted;
      counts.verificationCodes = await affected(tx.getRepository(VerificationCode).delete({ phoneHash: user.phoneHash }));
      // Last: receipts written above go to senders, never to the account itself.
      counts.pushJobs = await affected(tx.getRepository(PushJob).delete({ receiverUid: uid }));
      await tx.getRepository(User).delete({ uid });
      return { found: true, phoneHash: user.phoneHash, objectNames: objectNames.blobs, counts };
    });
  }

  async forgetInPushes(phoneHash: string): Promise<number> {
    // A scan of the outbox (kept PUSH_JOB_RETENTION_DAYS): outside the deletion's transaction,
    // in batches, so that it never holds up the dispatchers for long.
    let total = 0;
    for (;;) {
      const n = await deleteBatch(this.db, PushJob, 'payload LIKE :pattern', { pattern: `%${phoneHash}%` }, CHUNK);
      total += n;
      if (n < CHUNK) return total;
    }
  }

  /**
   * Takes the account out of every group, as leaving does: an owner's group passes to the
   * longest-standing member, and a group left empty is deleted. Group rows are locked one by
   * one, as membership changes lock them.
   */
  private async leaveGroups(tx: EntityManager, uid: number): Promise<{ left: number; deleted: number }> {
    const member = (await tx.getRepository(GroupMember).find({ select: { groupId: true }, where: { userUid: uid } })).map((m) => m.groupId);
    const owned = (await tx.getRepository(Group).find({ select: { id: true }, where: { ownerUid: uid } })).map((g) => g.id);
    const groupIds = [...new Set([...member, ...owned])].sort((a, b) => a - b);
    let deleted = 0;
    for (const groupId of groupIds) {
      const q = tx.getRepository(Group).createQueryBuilder('g').where('g.id = :groupId', { groupId });
      if (this.mysql) q.setLock('pessimistic_write');
      const group = await q.getOne();
      if (!group) continue;
      await tx.getRepository(GroupMember).delete({ groupId, userUid: uid });
      const next = await tx.getRepository(GroupMember).findOne({ where: { groupId }, order: { id: 'ASC' } });
      if (!next) {
        // The foreign key would do this too; said here so it holds whatever the database enforces.
        await tx.getRepository(Message).update({ groupId }, { groupId: null });
        await tx.getRepository(Group).delete({ id: groupId });
        deleted++;
      } else if (group.ownerUid === uid) {
        await tx.getRepository(Group).update({ id: groupId }, { ownerUid: next.userUid });
      }
    }
    return { left: groupIds.length, deleted };
  }
}

/**
 * Deletes, of these images, those no message points at any more, and answers the blobs among
 * them still in the store. Their keys are gone already (ended above, or earlier).
 */
async function deleteUnreferencedImages(tx: EntityManager, imageIds: number[]): Promise<{ blobs: string[]; deleted: number }> {
  const blobs: string[] = [];
  let deleted = 0;
  for (let i = 0; i < imageIds.length; i += CHUNK) {
    const ids = imageIds.slice(i, i + CHUNK);
    const unreferenced = await tx
      .getRepository(Image)
      .createQueryBuilder('i')
      .select(['i.id', 'i.objectName', 'i.blobDeletedAt'])
      .where('i.id IN (:...ids)', { ids })
      .andWhere('NOT EXISTS (SELECT 1 FROM message m WHERE m.image_id = i.id)')
      .getMany();
    if (!unreferenced.length) continue;
    await tx.getRepository(Image).delete({ id: In(unreferenced.map((img) => img.id)) });
    deleted += unreferenced.length;
    blobs.push(...unreferenced.filter((img) => img.blobDeletedAt === null).map((img) => img.objectName));
  }
  return { blobs, deleted };
}

/** The account's messages whose image's key still lives (not born ended by a block), as their receipts state them. */
async function copiesOfLiveImages(tx: EntityManager, uid: number, now: Date): Promise<DestroyedMessage[]> {
  const rows = await tx
    .getRepository(Message)
    .createQueryBuilder('m')
    .innerJoin('m.image', 'i')
    .select(['m.id', 'm.senderUid', 'm.endReason'])
    .where('m.receiver_uid = :uid AND i.ended_at IS NULL', { uid })
    .andWhere("(m.end_reason IS NULL OR m.end_reason <> 'blocked')")
    .orderBy('m.id', 'ASC')
    .getMany();
  // Still live here means expired and not yet swept.
  return rows.map((m) => ({ id: m.id, senderUid: m.senderUid, endReason: m.endReason ?? 'expired', destroyedAt: now }));
}

async function affected(result: Promise<{ affected?: number | null }>): Promise<number> {
  return (await result).affected ?? 0;
}
