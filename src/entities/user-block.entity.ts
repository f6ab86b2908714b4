import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The blocker no longer hears from the blocked user; the blocked user is never told. */
@Entity({ name: 'user_block' })
@Index('idx_user_block_blocked', ['blockedUid', 'blockerUid'])
export class UserBlock {
  @PrimaryColumn({ name: 'blocker_uid', type: 'int' })
  blockerUid: number;

  @PrimaryColumn({ name: 'blocked_uid', type: 'int' })
  blockedUid: number;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;
}
