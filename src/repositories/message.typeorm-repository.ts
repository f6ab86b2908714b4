import { DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import { Image } from '../entities/image.entity';
import { Message, MessageEndReason } from '../entities/message.entity';
import { inTransaction } from '../database';
import type { EndResult, MessageRepository, NewImage, NewMessage } from './message.repository';
import type { NewPushJob } from './push-job.repository';
import { insertPushJobs } from './push-job.typeorm-repository';

export class TypeormMessageRepository implements MessageRepository {
  /** Row locks exist only on MySQL; SQLite serialises every write transaction anyway. */
  private readonly lock: 'pessimistic_write' | undefined;

  constructor(private readonly db: DataSource) {
    this.lock = db.options.type === 'mysql' ? 'pessimistic_write' : undefined;
  }

  private withRelations(m: EntityManager = this.db.manager): SelectQueryBuilder<Message> {
    return m
      .getRepository(Message)
      .createQueryBuilder('m')
      .innerJoinAndSelect('m.sender', 's')
      .innerJoinAndSelect('m.image', 'i');
  }

  createImageWithMessages(image: NewImage, messages: NewMessage[], pushFor: (message: Message) => NewPushJob): Promise<Message[]> {
    return inTransaction(this.db, async (tx) => {
        const img = tx.getRepository(Image).create({ ...image, blobDeletedAt: null, endedAt: null, gcLeaseUntil: null });
        await tx.getRepository(Image).insert(img);
        const rows = messages.map((m) =>
          tx.getRepository(Message).create({ ...m, imageId: img.id, exist: true, endReason: null, endedAt: null }),
        );
        await tx.getRepository(Message).insert(rows);
        for (const r of rows) r.image = img;
        await insertPushJobs(tx, rows.map(pushFor), image.createdAt);
        return rows;
      });
  }

  findForReceiver(messageKey: string, receiverUid: number): Promise<Message | null> {
    return this.withRelations()
      .where('m.message_key = :messageKey AND m.receiver_uid = :receiverUid', { messageKey, receiverUid })
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
      .orderBy('m.id', 'ASC');
    if (senderPhoneHash !== undefined) q.andWhere('s.phone_hash = :senderPhoneHash', { senderPhoneHash });
    return q.getMany();
  }

  endForReceiver(messageKey: string, receiverUid: number, reason: MessageEndReason, now: Date): Promise<EndResult> {
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
            await tx.getRepository(Image).update({ id: image.id }, { endedAt: now });
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
}
