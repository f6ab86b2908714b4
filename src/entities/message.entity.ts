import { Field, Int, ObjectType } from 'type-graphql';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Group } from './group.entity';
import { Image } from './image.entity';
import { User } from './user.entity';

/**
 * confirmed by the receiver, expired unopened, closed because its blob was found missing, born
 * ended because the receiver blocked the sender (kept so the sender's answer looks normal), or
 * destroyed unopened because the receiver's account moved to another device.
 */
export type MessageEndReason = 'confirmed' | 'expired' | 'missing' | 'blocked' | 'account_moved';

/** One image addressed to one receiver. */
@ObjectType({ description: 'An image sent to one receiver' })
@Entity({ name: 'message' })
@Index('idx_message_receiver_pending', ['receiverUid', 'exist', 'id'])
@Index('idx_message_ended', ['endedAt'])
export class Message {
  @Field(() => Int)
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Field(() => String, { description: 'Unguessable key of this message; names the blob for one-to-one sends' })
  @Column({ name: 'message_key', type: 'varchar', length: 64, unique: true })
  messageKey: string;

  @Column({ name: 'sender_uid', type: 'int' })
  senderUid: number;

  /** In the API through MessageResolver.sender, which tells the receiver's request it knows the sender's number. */
  @ManyToOne(() => User, { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'sender_uid' })
  sender: User;

  @Field(() => Int)
  @Column({ name: 'receiver_uid', type: 'int' })
  receiverUid: number;

  @Column({ name: 'image_id', type: 'int' })
  imageId: number;

  @ManyToOne(() => Image, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'image_id' })
  image: Image;

  /** The group this was sent to; null for a one-to-one send (or once the group is gone). */
  @Column({ name: 'group_id', type: 'int', nullable: true })
  groupId: number | null;

  @ManyToOne(() => Group, { nullable: true, onDelete: 'SET NULL' })
  @JoinColumn({ name: 'group_id' })
  group?: Group | null;

  @Field(() => Date, { description: 'Server time when the send arrived' })
  @Column({ name: 'send_time', type: 'datetime', precision: 3 })
  sendTime: Date;

  @Field(() => Boolean, { description: 'False once the receiver confirmed the download or the image expired' })
  // No default declared here (the table has one): with one, TypeORM re-reads every inserted
  // row on MySQL, an extra query per send that grows with a group's size.
  @Column({ type: 'boolean' })
  exist: boolean;

  /** Why the message ended: confirmed by the receiver, or expired unopened. */
  @Column({ name: 'end_reason', type: 'varchar', length: 16, nullable: true })
  endReason: MessageEndReason | null;

  /**
   * When the message ended; its row is deleted MESSAGE_RETENTION_DAYS later. A message born
   * ended (blocked) ends, as its sender sees it, when its image expires.
   */
  @Column({ name: 'ended_at', type: 'datetime', precision: 3, nullable: true })
  endedAt: Date | null;

  /** The first complete download; an unconfirmed message is confirmed AUTO_CONFIRM_SECONDS later. */
  @Column({ name: 'downloaded_at', type: 'datetime', precision: 3, nullable: true })
  downloadedAt: Date | null;

  /** When the receiver reported a screenshot (the first report). */
  @Column({ name: 'screenshot_at', type: 'datetime', precision: 3, nullable: true })
  screenshotAt: Date | null;

  /** Loaded for the sender's list only (sentImages). */
  receiver?: User;

  @Field(() => String, { description: 'MIME type decided from the image bytes' })
  get filetype(): string {
    return this.image.filetype;
  }

  @Field(() => Int, { description: 'Size of the image in bytes' })
  get size(): number {
    return this.image.size;
  }
}
