import { Field, Int, ObjectType } from 'type-graphql';
import { Column, Entity, Index, JoinColumn, ManyToOne, OneToMany, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { User } from './user.entity';

/** A named set of users that one image can be sent to at once. */
@ObjectType({ description: 'A group of users; only its members see it' })
@Entity({ name: 'user_group' })
export class Group {
  @Field(() => Int)
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Field(() => String)
  @Column({ type: 'varchar', length: 64 })
  name: string;

  @Column({ name: 'owner_uid', type: 'int' })
  ownerUid: number;

  @Field(() => User)
  @ManyToOne(() => User, { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_uid' })
  owner: User;

  @OneToMany(() => GroupMember, (m) => m.group)
  memberships: GroupMember[];

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Field(() => [User], { description: 'Every member, the owner included, longest-standing first' })
  get members(): User[] {
    return [...(this.memberships ?? [])].sort((a, b) => a.id - b.id).map((m) => m.user);
  }
}

/** One user in one group; the unique pair makes a second membership impossible even under races. */
@Entity({ name: 'group_member' })
@Unique('uq_group_member', ['groupId', 'userUid'])
@Index('idx_group_member_user', ['userUid', 'groupId'])
export class GroupMember {
  /** Increases with joining: the lowest id is the longest-standing member. */
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'group_id', type: 'int' })
  groupId: number;

  @ManyToOne(() => Group, (g) => g.memberships, { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'group_id' })
  group: Group;

  @Column({ name: 'user_uid', type: 'int' })
  userUid: number;

  @ManyToOne(() => User, { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_uid' })
  user: User;

  @Column({ name: 'joined_at', type: 'datetime', precision: 3 })
  joinedAt: Date;
}
