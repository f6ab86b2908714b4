import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Message } from './message.entity';

/**
 * One downloadUrl: it serves one complete download of its message's image (Range requests
 * within it, so an interrupted download resumes), then answers 410. The bytes it serves add up
 * to at most the image plus one segment, however they are asked for.
 */
@Entity({ name: 'download_grant' })
@Index('idx_download_grant_message', ['messageId'])
@Index('idx_download_grant_created', ['createdAt'])
export class DownloadGrant {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'message_id', type: 'int' })
  messageId: number;

  @ManyToOne(() => Message, { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'message_id' })
  message?: Message;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  /** Set when a response delivered the image's last byte: the grant is used up. */
  @Column({ name: 'completed_at', type: 'datetime', precision: 3, nullable: true })
  completedAt: Date | null;

  /** Bytes of the image served (or being served) under this grant; a response reserves its length before it starts. */
  // No default declared here (the table has one), so that TypeORM does not re-read inserted rows.
  @Column({ name: 'served_bytes', type: 'int' })
  servedBytes: number;
}
