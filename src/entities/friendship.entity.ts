import { registerEnumType } from 'type-graphql';
import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

export enum FriendshipState {
  REQUESTED = 'REQUESTED',
  FRIENDS = 'FRIENDS',
}
registerEnumType(FriendshipState, { name: 'FriendshipState' });

/**
 * One row per unordered pair of users (userLow < userHigh), so that two people asking each
 * other at once, or one asking twice, meet on the same unique key instead of making two rows.
 */
@Entity({ name: 'friendship' })
@Unique('uq_friendship_pair', ['userLow', 'userHigh'])
@Index('idx_friendship_high', ['userHigh', 'state'])
export class Friendship {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'user_low', type: 'int' })
  userLow: number;

  @Column({ name: 'user_high', type: 'int' })
  userHigh: number;

  /** Who asked first; the other one accepts. */
  @Column({ name: 'requester_uid', type: 'int' })
  requesterUid: number;

  @Column({ type: 'varchar', length: 10 })
  state: FriendshipState;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;
}

/** The pair's key: the smaller uid first. */
export function pairOf(a: number, b: number): { userLow: number; userHigh: number } {
  return a < b ? { userLow: a, userHigh: b } : { userLow: b, userHigh: a };
}
