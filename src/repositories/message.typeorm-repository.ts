import { DataSource, EntityManager, EntityTarget, In, IsNull, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { DownloadGrant } from '../entities/download-grant.entity';
import { Image, KEY_DESTROYED } from '../entities/image.entity';
import { Message, MessageEndReason } from '../entities/message.entity';
import { deleteBatch, inTransaction, withTxRetry } from '../database';
import { User } from '../entities/user.entity';
import type {
  DestroyedMessage,
  DownloadTarget,
  EndResult,
  GrantRef,
  MessageRepository,
  NewImage,
  NewMessage,
  ReceiptJobs,
} from './message.repository';
import type { MysqlBatch } from './mysql-batch';
import type { NewPushJob } from './push-job.repository';
import { insertRows, insertStatements, ROWS_PER_STATEMENT, Statement } from './bulk-insert.typeorm';
import { announcePushJobs, insertPushJobs, newPushJobRows, PUSH_JOB_COLUMNS } from './push-job.typeorm-repository';
import { PushJob } from '../entities/push-job.entity';

export class TypeormMessageRepository implements MessageRepository {
  /** Row locks exist only on MySQL; SQLite serialises every write transaction anyway. */
  private readonly lock: 'pessimistic_write' | undefined;

  /**
   * @param batch MySQL only: a send's writes go as one round trip (see createImageWithMessages),
   *   and a whole download's byte count and lookup as another; without it, one after the other.
   */
  constructor(
    private readonly db: DataSource,
    private readonly batch: MysqlBatch | null = null,
  ) {
    this.lock = db.options.type === 'mysql' ? 'pessimistic_write' : undefined;
  }

  private withRelations(m: EntityManager = this.db.manager): SelectQueryBuilder<Message> {
    return m.getRepository(Message).createQueryBuilder('m').innerJoinAndSelect('m.sender', 's').innerJoinAndSelect('m.image', 'i');
  }

  createImageWithMessages(image: NewImage, messages: NewMessage[], pushFor: (message: Message) => NewPushJob | null): Promise<Message[]> {
    if (this.batch) return this.createInOneTrip(this.batch, image, messages, pushFor);
    return inTransaction(this.db, async (tx) => {
      const img = imageRow(tx.getRepository(Image).create(), image);
      await tx.getRepository(Image).insert(img);
      const rows = messageRows(messages, img);
      await insertMessages(tx, rows);
      const pushes = rows.map(pushFor).filter((p): p is NewPushJob => p !== null);
      await insertPushJobs(tx, pushes, image.createdAt);
      return rows;
    });
  }

  /**
   * The same writes as one MySQL transaction sent at once: a send's last step is then one round
   * trip, not five. The ids MySQL generates are not known while the statements are written, so
   * the messages take the image's id from a session variable, and each push's payload is written
   * with a stand-in for its message's id that SQL replaces with the real one.
   */
  private async createInOneTrip(
    batch: MysqlBatch,
    image: NewImage,
    messages: NewMessage[],
    pushFor: (message: Message) => NewPushJob | null,
  ): Promise<Message[]> {
    const img = imageRow(new Image(), image);
    const rows = messageRows(messages, img);
    // Stand-ins of one width, so that none is the start of another, and never a real id.
    const standIn = (i: number) => String(-(STAND_IN_BASE + i));
    rows.forEach((m, i) => (m.id = Number(standIn(i))));
    const pushes: { job: NewPushJob; message: number }[] = [];
    rows.forEach((m, i) => {
      const job = pushFor(m);
      if (job) pushes.push({ job, message: i });
    });
    const jobs = newPushJobRows(
      pushes.map((p) => p.job),
      image.createdAt,
    );
    const firstId = (chunk: number) => `@glimpse_message_${chunk}`;
    const messageId = (i: number) => `${firstId(Math.floor(i / ROWS_PER_STATEMENT))} + ${i % ROWS_PER_STATEMENT}`;
    const messageInserts = insertStatements(this.db, Message, MESSAGE_COLUMNS, rows, { image_id: () => '@glimpse_image' });
    const pushInserts = insertStatements(this.db, PushJob, PUSH_JOB_COLUMNS, jobs, {
      payload: (_job, i) => `REPLACE(?, '${standIn(pushes[i].message)}', ${messageId(pushes[i].message)})`,
    });
    const statements: Statement[] = [
      ...insertStatements(this.db, Image, IMAGE_COLUMNS, [img]),
      { sql: 'SET @glimpse_image = LAST_INSERT_ID()', params: [] },
      ...messageInserts.flatMap((insert, chunk) => [insert, { sql: `SET ${firstId(chunk)} = LAST_INSERT_ID()`, params: [] }]),
      ...pushInserts,
    ];
    const results = await batch.transaction(statements);
    // Each INSERT answers the first id it made: the image's, then each chunk's (each followed by its SET).
    const firstOf = (statement: number) => results[statement].insertId;
    img.id = firstOf(0);
    const idOf = (i: number, firstStatement: number, stride: number) =>
      firstOf(firstStatement + stride * Math.floor(i / ROWS_PER_STATEMENT)) + (i % ROWS_PER_STATEMENT);
    rows.forEach((m, i) => Object.assign(m, { imageId: img.id, id: idOf(i, 2, 2) }));
    jobs.forEach((job, i) => {
      job.id = idOf(i, 2 + 2 * messageInserts.length, 1);
      job.payload = job.payload.replace(standIn(pushes[i].message), String(rows[pushes[i].message].id));
    });
    announcePushJobs(this.db, jobs);
    return rows;
  }

  findForReceiver(messageKey: string, receiverUid: number): Promise<Message | null> {
    return this.withRelations()
      .where('m.message_key = :messageKey AND m.receiver_uid = :receiverUid', { messageKey, receiverUid })
      .andWhere("(m.end_reason IS NULL OR m.end_reason <> 'blocked')")
      .getOne();
  }

  findByKey(messageKey: string): Promise<Message | null> {
    return this.withRelations().where('m.message_key = :messageKey', { messageKey }).getOne();
  }

  listPending(receiverUid: number, now: Date, senderPhoneHash?: string): Promise<Message[]> {
    const q = this.withRelations()
      .where('m.receiver_uid = :receiverUid AND m.exist = :exist AND i.expires_at > :now', {
        receiverUid,
        exist: true,
        now,
      })
      .andWhere('NOT EXISTS (SELECT 1 FROM user_block b WHERE b.blocker_uid = m.receiver_uid AND b.blocked_uid = m.sender_uid)')
      .orderBy('m.id', 'ASC');
    if (senderPhoneHash !== undefined) q.andWhere('s.phone_hash = :senderPhoneHash', { senderPhoneHash });
    return q.getMany();
  }

  endForReceiver(messageKey: string, receiverUid: number, reason: MessageEndReason, now: Date, receipts?: ReceiptJobs): Promise<EndResult> {
    return inTransaction(this.db, async (tx) => {
      // Lock order message → image, and count only after both locks: two receivers of one
      // image confirming at once then agree on which of them ends the image.
      const found = await tx
        .getRepository(Message)
        .createQueryBuilder('m')
        .where('m.message_key = :messageKey AND m.receiver_uid = :receiverUid', { messageKey, receiverUid })
        .setLock(this.lock as 'pessimistic_write')
        .getOne();
      if (!found) return { message: null, orphanedImage: null };
      let orphanedImage: Image | null = null;
      if (found.exist) {
        const image = await tx
          .getRepository(Image)
          .createQueryBuilder('i')
          .where('i.id = :id', { id: found.imageId })
          .setLock(this.lock as 'pessimistic_write')
          .getOneOrFail();
        await tx.getRepository(Message).update({ id: found.id }, { exist: false, endReason: reason, endedAt: now });
        const live = await tx.getRepository(Message).countBy({ imageId: found.imageId, exist: true });
        if (live === 0) {
          // The key goes in the same commit as the last message: from then on no copy of the blob can be read.
          await tx.getRepository(Image).update({ id: image.id }, { endedAt: now, ...KEY_DESTROYED });
          if (receipts) await insertPushJobs(tx, receipts(await destroyedMessages(tx, [image.id], now)), now);
          orphanedImage = image;
        }
      }
      const message = await this.withRelations(tx).where('m.id = :id', { id: found.id }).getOneOrFail();
      return { message, orphanedImage };
    });
  }

  async markBlobDeleted(imageId: number, now: Date): Promise<void> {
    await this.db.getRepository(Image).update({ id: imageId }, { blobDeletedAt: now });
  }

  async recordScreenshot(messageKey: string, receiverUid: number, now: Date): Promise<Message | null> {
    const found = await this.findForReceiver(messageKey, receiverUid);
    if (!found) return null;
    await this.db.getRepository(Message).update({ id: found.id, screenshotAt: IsNull() }, { screenshotAt: now });
    return this.findForReceiver(messageKey, receiverUid);
  }

  listSent(senderUid: number, limit: number): Promise<Message[]> {
    return this.db
      .getRepository(Message)
      .createQueryBuilder('m')
      .innerJoinAndSelect('m.image', 'i')
      .innerJoinAndMapOne('m.receiver', User, 'r', 'r.id = m.receiver_uid')
      .where('m.sender_uid = :senderUid', { senderUid })
      .orderBy('m.id', 'DESC')
      .limit(limit)
      .getMany();
  }

  async findUnusedGrants(messageIds: number[], createdAfter: Date): Promise<Map<number, GrantRef>> {
    const found = new Map<number, GrantRef>();
    if (messageIds.length === 0) return found;
    const rows = await this.db
      .getRepository(DownloadGrant)
      .createQueryBuilder('g')
      .select(['g.id', 'g.messageId', 'g.createdAt'])
      .where('g.message_id IN (:...messageIds) AND g.completed_at IS NULL AND g.served_bytes = 0 AND g.created_at > :createdAfter', {
        messageIds,
        createdAfter,
      })
      .orderBy('g.id', 'DESC')
      .getMany();
    for (const g of rows) if (!found.has(g.messageId)) found.set(g.messageId, { id: g.id, createdAt: g.createdAt });
    return found;
  }

  async createGrants(messageIds: number[], now: Date): Promise<Map<number, number>> {
    const rows = messageIds.map((messageId) =>
      Object.assign(new DownloadGrant(), { messageId, createdAt: now, completedAt: null, servedBytes: 0 }),
    );
    if (rows.length === 1) await this.db.getRepository(DownloadGrant).insert(rows[0]);
    else if (rows.length > 1) await inTransaction(this.db, (tx) => insertRows(tx, DownloadGrant, GRANT_COLUMNS, rows));
    return new Map(rows.map((g) => [g.messageId, Number(g.id)]));
  }

  async findGrant(grantId: number) {
    const grant = await this.db.getRepository(DownloadGrant).findOneBy({ id: grantId });
    return grant ? { messageId: grant.messageId, completed: grant.completedAt !== null, servedBytes: grant.servedBytes } : null;
  }

  async reserveGrantBytes(grantId: number, messageId: number, bytes: number, budget: number): Promise<boolean> {
    const r = await this.db
      .createQueryBuilder()
      .update(DownloadGrant)
      .set({ servedBytes: () => 'served_bytes + :bytes' })
      .where('id = :grantId AND message_id = :messageId AND completed_at IS NULL AND served_bytes + :bytes <= :budget', {
        grantId,
        messageId,
        bytes,
        budget,
      })
      .execute();
    return r.affected === 1;
  }

  async reserveWholeImage(
    grantId: number,
    messageKey: string,
    now: Date,
    slack: number,
    maxBudget: number,
  ): Promise<DownloadTarget | null> {
    const [count, params] = this.db.driver.escapeQueryWithParameters(RESERVE_WHOLE_IMAGE, {
      grantId,
      messageKey,
      exist: true,
      now,
      slack,
      maxBudget,
    });
    let row: DownloadTargetRow | undefined;
    if (this.batch) {
      // Read after the count, in the same round trip: the row as it stands once the bytes are counted.
      const [written, rows] = await this.batch.statements([
        { sql: count, params },
        { sql: DOWNLOAD_TARGET, params: [messageKey] },
      ]);
      if (Number((written as { affectedRows: number }).affectedRows) !== 1) return null;
      row = (rows as DownloadTargetRow[])[0];
    } else {
      const runner = this.db.createQueryRunner();
      try {
        if ((await withTxRetry(() => runner.query(count, params, true))).affected !== 1) return null;
        row = ((await runner.query(DOWNLOAD_TARGET, [messageKey])) as DownloadTargetRow[])[0];
      } finally {
        await runner.release();
      }
    }
    if (!row) return null;
    return {
      messageId: Number(row.id),
      exist: Boolean(Number(row.exist)),
      image: {
        objectName: row.objectName,
        filetype: row.filetype,
        size: Number(row.size),
        cipher: row.cipher,
        wrappedKey: row.wrappedKey,
        keyId: row.keyId,
      },
    };
  }

  async releaseGrantBytes(grantId: number, bytes: number): Promise<void> {
    await this.db
      .createQueryBuilder()
      .update(DownloadGrant)
      .set({ servedBytes: () => 'served_bytes - :bytes' })
      .where('id = :grantId AND served_bytes >= :bytes', { grantId, bytes })
      .execute();
  }

  async completeGrant(grantId: number, messageId: number, now: Date): Promise<boolean> {
    if (this.db.options.type === 'mysql') {
      // One statement writes both rows atomically, without a transaction's round trips; once
      // another download has completed the grant it matches no row.
      const r = await withTxRetry(() =>
        this.db.query(
          'UPDATE download_grant g INNER JOIN message m ON m.id = g.message_id ' +
            'SET g.completed_at = ?, m.downloaded_at = COALESCE(m.downloaded_at, ?) ' +
            'WHERE g.id = ? AND g.message_id = ? AND g.completed_at IS NULL',
          [now, now, grantId, messageId],
        ),
      );
      return Number((r as { affectedRows: number }).affectedRows) >= 1;
    }
    return inTransaction(this.db, async (tx) => {
      const used = await tx.getRepository(DownloadGrant).update({ id: grantId, messageId, completedAt: IsNull() }, { completedAt: now });
      if (used.affected !== 1) return false;
      await tx.getRepository(Message).update({ id: messageId, downloadedAt: IsNull() }, { downloadedAt: now });
      return true;
    });
  }

  deleteGrantsCreatedBefore(before: Date, limit: number): Promise<number> {
    return deleteBatch(this.db, DownloadGrant, 'created_at < :before', { before }, limit);
  }

  deleteEndedBefore(before: Date, limit: number): Promise<number> {
    return this.claimAndDelete(Message, 'ended_at < :before', { before }, 'ended_at', limit);
  }

  deleteImagesEndedBefore(before: Date, limit: number): Promise<number> {
    // No message points at it any more (a group's last message ends with its image, a blocked
    // one when the image expires), and the blob is gone, so the collector has nothing to find.
    const where = 'ended_at < :before AND blob_deleted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM message m WHERE m.image_id = image.id)';
    return this.claimAndDelete(Image, where, { before }, 'ended_at', limit);
  }

  /**
   * Deletes up to `limit` rows matching `where` (SQL over the table's columns, the table named
   * by its own name). On MySQL the rows are claimed with SKIP LOCKED first, so instances pruning
   * at once each take rows the others have not; SQLite has one writer at a time.
   */
  private claimAndDelete(
    entity: EntityTarget<ObjectLiteral>,
    where: string,
    params: Record<string, unknown>,
    order: string,
    limit: number,
  ): Promise<number> {
    if (this.db.options.type !== 'mysql') return deleteBatch(this.db, entity, where, params, limit);
    const table = this.db.getMetadata(entity).tableName;
    return withTxRetry(() =>
      this.db.transaction('READ COMMITTED', async (tx) => {
        const claimed = await tx
          .createQueryBuilder()
          .select(`${table}.id`, 'id')
          .from(entity, table)
          .where(where, params)
          .orderBy(`${table}.${order}`, 'ASC')
          .limit(Math.max(1, Math.floor(limit)))
          .setLock('pessimistic_write')
          .setOnLocked('skip_locked')
          .getRawMany<{ id: number }>();
        if (claimed.length === 0) return 0;
        const r = await tx
          .createQueryBuilder()
          .delete()
          .from(entity)
          .where({ id: In(claimed.map((c) => Number(c.id))) })
          .execute();
        return r.affected ?? claimed.length;
      }),
    );
  }

  async listDownloadedBefore(before: Date, limit: number) {
    const rows = await this.db
      .getRepository(Message)
      .createQueryBuilder('m')
      .select(['m.messageKey', 'm.receiverUid'])
      .where('m.exist = :exist AND m.downloaded_at <= :before', { exist: true, before })
      .orderBy('m.downloaded_at', 'ASC')
      .limit(limit)
      .getMany();
    return rows.map((m) => ({ messageKey: m.messageKey, receiverUid: m.receiverUid }));
  }
}

/** The messages of images whose key was just destroyed, as their senders are told (none to blockers). */
export async function destroyedMessages(tx: EntityManager, imageIds: number[], now: Date): Promise<DestroyedMessage[]> {
  if (imageIds.length === 0) return [];
  const rows = await tx
    .getRepository(Message)
    .createQueryBuilder('m')
    .select(['m.id', 'm.senderUid', 'm.endReason'])
    .where('m.image_id IN (:...imageIds)', { imageIds })
    .andWhere("(m.end_reason IS NULL OR m.end_reason <> 'blocked')")
    .orderBy('m.id', 'ASC')
    .getMany();
  return rows.map((m) => ({ id: m.id, senderUid: m.senderUid, endReason: m.endReason ?? 'expired', destroyedAt: now }));
}

/** Messages ended per round by endPendingMessages: each statement stays bounded however many are pending. */
const END_BATCH = 500;

/**
 * Ends every pending message to `receiverUid` (live, its image not yet expired: the expiry sweep
 * ends those) with `reason`, inside the caller's transaction. An image left without a live
 * message ends with them: its key goes in this commit and its senders' receipts are written.
 * Answers those images; deleting their blobs is the caller's job once the transaction commits.
 */
export async function endPendingMessages(
  tx: EntityManager,
  receiverUid: number,
  reason: MessageEndReason,
  now: Date,
  receipts?: ReceiptJobs,
): Promise<Pick<Image, 'id' | 'objectName'>[]> {
  const ended: Pick<Image, 'id' | 'objectName'>[] = [];
  for (;;) {
    const q = tx
      .getRepository(Message)
      .createQueryBuilder('m')
      .innerJoin('m.image', 'i')
      .select(['m.id', 'm.imageId'])
      .where('m.receiver_uid = :receiverUid AND m.exist = :exist AND i.expires_at > :now', { receiverUid, exist: true, now })
      .orderBy('m.id', 'ASC')
      .limit(END_BATCH);
    // Locks the messages and their images, as a confirm does, so that a concurrent confirm of
    // another receiver of the same image agrees on which of them ends the image.
    if (tx.connection.options.type === 'mysql') q.setLock('pessimistic_write');
    const live = await q.getMany();
    if (live.length === 0) break;
    const imageIds = [...new Set(live.map((m) => m.imageId))];
    await tx.getRepository(Message).update({ id: In(live.map((m) => m.id)) }, { exist: false, endReason: reason, endedAt: now });
    const stillLive = await tx
      .getRepository(Message)
      .createQueryBuilder('m')
      .select('m.image_id', 'imageId')
      .where('m.image_id IN (:...imageIds) AND m.exist = :exist', { imageIds, exist: true })
      .getRawMany<{ imageId: number }>();
    const keepsLive = new Set(stillLive.map((r) => Number(r.imageId)));
    const ending = imageIds.filter((id) => !keepsLive.has(id));
    if (ending.length) {
      // The keys go in the same commit as the last messages: from then on no copy can be read.
      await tx.getRepository(Image).update({ id: In(ending) }, { endedAt: now, ...KEY_DESTROYED });
      if (receipts) await insertPushJobs(tx, receipts(await destroyedMessages(tx, ending, now)), now);
      ended.push(...(await tx.getRepository(Image).find({ select: { id: true, objectName: true }, where: { id: In(ending) } })));
    }
    if (live.length < END_BATCH) break;
  }
  return ended;
}

/**
 * reserveWholeImage's count. The grant's message is reached from the grant row being updated,
 * in a form both dialects take (SQLite has no multi-table UPDATE); written by hand, as TypeORM's
 * builder would take `message` in it for the grant's relation of that name.
 */
const RESERVE_WHOLE_IMAGE = (() => {
  const itsImage = 'FROM message m INNER JOIN image i ON i.id = m.image_id WHERE m.id = download_grant.message_id';
  return (
    `UPDATE download_grant SET served_bytes = served_bytes + (SELECT i.size ${itsImage}) ` +
    `WHERE id = :grantId AND completed_at IS NULL AND EXISTS (SELECT 1 ${itsImage} AND m.message_key = :messageKey ` +
    'AND m.exist = :exist AND i.expires_at > :now AND download_grant.served_bytes + i.size <= i.size + :slack ' +
    'AND download_grant.served_bytes + i.size <= :maxBudget)'
  );
})();

/** A download's message and image, by message key (see reserveWholeImage). */
const DOWNLOAD_TARGET =
  'SELECT m.id AS id, m.exist AS exist, i.object_name AS objectName, i.filetype AS filetype, i.size AS size, i.cipher AS cipher, ' +
  'i.wrapped_key AS wrappedKey, i.key_id AS keyId FROM message m INNER JOIN image i ON i.id = m.image_id WHERE m.message_key = ?';

interface DownloadTargetRow {
  id: number | string;
  exist: number | boolean;
  objectName: string;
  filetype: string;
  size: number | string;
  cipher: string | null;
  wrappedKey: string | null;
  keyId: string | null;
}

const GRANT_COLUMNS = ['message_id', 'created_at', 'completed_at', 'served_bytes'] as const;

const IMAGE_COLUMNS = [
  'object_name',
  'filetype',
  'size',
  'sha256',
  'expires_at',
  'created_at',
  'ended_at',
  'gc_lease_until',
  'cipher',
  'wrapped_key',
  'key_id',
  'blob_deleted_at',
] as const;

/** Push payloads name their message by a stand-in id until MySQL has made the real one. */
const STAND_IN_BASE = 1_000_000_000_000_000;

/** The row of a new image; a discarded one (every receiver blocked the sender) is born ended. */
function imageRow(row: Image, image: NewImage): Image {
  const { discarded, ...facts } = image;
  const over = discarded ? facts.createdAt : null;
  return Object.assign(row, { ...facts, ...(discarded ? KEY_DESTROYED : {}), blobDeletedAt: over, endedAt: over, gcLeaseUntil: null });
}

function messageRows(messages: NewMessage[], img: Image): Message[] {
  return messages.map((m) =>
    Object.assign(new Message(), {
      ...m,
      groupId: m.groupId ?? null,
      imageId: img.id,
      image: img,
      exist: !m.endReason,
      endReason: m.endReason ?? null,
      // Born ended, it looks pending to its sender until the image expires: it ends then
      // (and is deleted as long after as any other message).
      endedAt: m.endReason ? img.expiresAt : null,
      downloadedAt: null,
      screenshotAt: null,
    }),
  );
}

const MESSAGE_COLUMNS = [
  'message_key',
  'sender_uid',
  'receiver_uid',
  'image_id',
  'group_id',
  'send_time',
  'exist',
  'end_reason',
  'ended_at',
] as const;

/** Writes the messages with one multi-row INSERT and sets their ids. */
function insertMessages(tx: EntityManager, rows: Message[]): Promise<void> {
  return insertRows(tx, Message, MESSAGE_COLUMNS, rows);
}
