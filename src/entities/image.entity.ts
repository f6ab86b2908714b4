import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One stored blob and its facts. Messages point at it; a group send makes several messages for
 * one image. The blob goes when the last message pointing at it ends.
 */
@Entity({ name: 'image' })
@Index('idx_image_key_id', ['keyId'])
@Index('idx_image_ended', ['endedAt'])
export class Image {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  /** The blob's name in the store; for a one-to-one send, the message's key. */
  @Column({ name: 'object_name', type: 'varchar', length: 128, unique: true })
  objectName: string;

  /** MIME type decided from the file's bytes. */
  @Column({ type: 'varchar', length: 64 })
  filetype: string;

  @Column({ type: 'int' })
  size: number;

  /**
   * Lowercase hex SHA-256 of the image's bytes (before encryption). It would identify the image
   * after its key is gone, so it is cleared with the key.
   */
  @Column({ type: 'varchar', length: 64, nullable: true })
  sha256: string | null;

  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt: Date;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  /** When the last message pointing at this image ended; the blob is due for deletion from then. */
  @Column({ name: 'ended_at', type: 'datetime', precision: 3, nullable: true })
  endedAt: Date | null;

  /** The sweeper that claimed this image for deletion holds it until then (several instances). */
  @Column({ name: 'gc_lease_until', type: 'datetime', precision: 3, nullable: true })
  gcLeaseUntil: Date | null;

  /** How the blob is sealed (`aes256gcm-64k`; the name fixes the segment size), or null for a blob stored as sent. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  cipher: string | null;

  /**
   * The image's own key, wrapped by ENCRYPTION_KEY; the only copy. Set to null in the transaction
   * that ends the image's last message, after which no copy of the blob can be read.
   */
  @Column({ name: 'wrapped_key', type: 'varchar', length: 128, nullable: true })
  wrappedKey: string | null;

  /** Which master key wrapped `wrappedKey` (its key id); cleared with it. A rotation moves rows off the previous one. */
  @Column({ name: 'key_id', type: 'varchar', length: 16, nullable: true })
  keyId: string | null;

  /** Set once the blob has been removed from the store. */
  @Column({ name: 'blob_deleted_at', type: 'datetime', precision: 3, nullable: true })
  blobDeletedAt: Date | null;
}

/**
 * What destroying an image's key writes, in the transaction that ends its last message: the key,
 * the id of the master key that wrapped it, and the plaintext hash, which would otherwise name
 * the image for as long as the row is kept.
 */
export const KEY_DESTROYED = { wrappedKey: null, keyId: null, sha256: null } as const satisfies Partial<Image>;
