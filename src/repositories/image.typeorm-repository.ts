import { Brackets, DataSource, In, IsNull } from 'typeorm';
import { Image, KEY_DESTROYED } from '../entities/image.entity';
import { Message } from '../entities/message.entity';
import { inTransaction } from '../database';
import type { ImageRepository, WrappedImageKey } from './image.repository';
import type { ReceiptJobs } from './message.repository';
import { destroyedMessages } from './message.typeorm-repository';
import { insertPushJobs } from './push-job.typeorm-repository';

export class TypeormImageRepository implements ImageRepository {
  private readonly mysql: boolean;

  constructor(private readonly db: DataSource) {
    this.mysql = db.options.type === 'mysql';
  }

  claimDue(now: Date, endedBefore: Date, limit: number, leaseMs: number, receipts?: ReceiptJobs): Promise<Image[]> {
    return inTransaction(this.db, async (tx) => {
      const due = (which: 'expired' | 'ended') => {
        const q = tx
          .getRepository(Image)
          .createQueryBuilder('i')
          .select('i.id', 'id')
          .where('i.blob_deleted_at IS NULL')
          .andWhere(new Brackets((b) => b.where('i.gc_lease_until IS NULL').orWhere('i.gc_lease_until <= :now', { now })));
        if (which === 'expired') q.andWhere('i.expires_at <= :now', { now }).orderBy('i.expires_at', 'ASC');
        else q.andWhere('i.ended_at <= :endedBefore', { endedBefore }).orderBy('i.ended_at', 'ASC');
        q.limit(limit);
        // Several instances sweep at once: each skips the rows another has locked.
        if (this.mysql) q.setLock('pessimistic_write').setOnLocked('skip_locked');
        return q.getRawMany<{ id: number }>();
      };
      const ids = [...new Set([...(await due('expired')), ...(await due('ended'))].map((r) => Number(r.id)))].slice(0, limit);
      if (ids.length === 0) return [];
      // Images ending now (not those whose last message ended earlier): their senders get receipts.
      const ending = (await tx.getRepository(Image).find({ select: { id: true }, where: { id: In(ids), endedAt: IsNull() } })).map(
        (i) => i.id,
      );
      await tx.getRepository(Image).update({ id: In(ids) }, { gcLeaseUntil: new Date(now.getTime() + leaseMs) });
      await tx.getRepository(Message).update({ imageId: In(ids), exist: true }, { exist: false, endReason: 'expired', endedAt: now });
      await tx.getRepository(Image).update({ id: In(ids), endedAt: IsNull() }, { endedAt: now });
      // Every message of these images has ended: their keys (and plaintext hashes) go in this same commit.
      await tx.getRepository(Image).update({ id: In(ids) }, KEY_DESTROYED);
      if (receipts) await insertPushJobs(tx, receipts(await destroyedMessages(tx, ending, now)), now);
      return tx.getRepository(Image).findBy({ id: In(ids) });
    });
  }

  async markBlobDeleted(imageId: number, now: Date): Promise<void> {
    await this.db.getRepository(Image).update({ id: imageId }, { blobDeletedAt: now, gcLeaseUntil: null });
  }

  pageStored(after: string | null, createdBefore: Date, limit: number) {
    const q = this.db
      .getRepository(Image)
      .createQueryBuilder('i')
      .select(['i.id', 'i.objectName'])
      .where('i.blob_deleted_at IS NULL AND i.created_at < :createdBefore', { createdBefore })
      .orderBy('i.object_name', 'ASC')
      .limit(limit);
    if (after !== null) q.andWhere('i.object_name > :after', { after });
    return q.getMany();
  }

  async existsByObjectName(objectName: string): Promise<boolean> {
    return (await this.db.getRepository(Image).countBy({ objectName })) > 0;
  }

  closeMissing(imageId: number, now: Date, receipts?: ReceiptJobs): Promise<number> {
    return inTransaction(this.db, async (tx) => {
      const ending = (await tx.getRepository(Image).countBy({ id: imageId, endedAt: IsNull() })) > 0;
      const ended = await tx.getRepository(Message).update({ imageId, exist: true }, { exist: false, endReason: 'missing', endedAt: now });
      await tx
        .getRepository(Image)
        .update({ id: imageId, blobDeletedAt: IsNull() }, { blobDeletedAt: now, endedAt: now, ...KEY_DESTROYED });
      // The image ends here (its blob is gone): its key goes and its senders get their receipts.
      if (ending && receipts) await insertPushJobs(tx, receipts(await destroyedMessages(tx, [imageId], now)), now);
      return ended.affected ?? 0;
    });
  }

  async findKeyIdOutside(known: string[]): Promise<string | null> {
    const row = await this.db
      .getRepository(Image)
      .createQueryBuilder('i')
      .select('i.key_id', 'keyId')
      .where('i.key_id IS NOT NULL AND i.key_id NOT IN (:...known)', { known })
      .limit(1)
      .getRawOne<{ keyId: string }>();
    return row?.keyId ?? null;
  }

  async pageWrappedKeys(notUnder: string, afterId: number, limit: number): Promise<WrappedImageKey[]> {
    const rows = await this.db
      .getRepository(Image)
      .createQueryBuilder('i')
      .select(['i.id', 'i.objectName', 'i.wrappedKey', 'i.keyId'])
      .where('i.wrapped_key IS NOT NULL AND (i.key_id IS NULL OR i.key_id <> :notUnder) AND i.id > :afterId', { notUnder, afterId })
      .orderBy('i.id', 'ASC')
      .limit(limit)
      .getMany();
    return rows.map((i) => ({ id: i.id, objectName: i.objectName, wrappedKey: i.wrappedKey!, keyId: i.keyId }));
  }

  replaceWrappedKeys(changes: { from: WrappedImageKey; wrappedKey: string; keyId: string }[]): Promise<number> {
    if (changes.length === 0) return Promise.resolve(0);
    return inTransaction(this.db, async (tx) => {
      let changed = 0;
      for (const c of changes) {
        const where = { id: c.from.id, wrappedKey: c.from.wrappedKey, keyId: c.from.keyId ?? IsNull() };
        const r = await tx.getRepository(Image).update(where, { wrappedKey: c.wrappedKey, keyId: c.keyId });
        changed += r.affected ?? 0;
      }
      return changed;
    });
  }

  countWrappedNotUnder(keyId: string): Promise<number> {
    return this.db
      .getRepository(Image)
      .createQueryBuilder('i')
      .where('i.wrapped_key IS NOT NULL AND (i.key_id IS NULL OR i.key_id <> :keyId)', { keyId })
      .getCount();
  }
}
