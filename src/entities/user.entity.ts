import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Who may send the user images one-to-one (group sends are consented to by membership). */
export enum WhoCanSend {
  EVERYONE = 'EVERYONE',
  FRIENDS = 'FRIENDS',
}
registerEnumType(WhoCanSend, { name: 'WhoCanSend', description: 'Who may send the user images one-to-one' });

/** A person's account, bound to one device at a time (its push cid and its ukey). */
@ObjectType({ description: 'A registered person. The phone number itself is never returned.' })
@Entity({ name: 'user' })
@Index('idx_user_discovery', ['phoneHash', 'discoverable', 'nickname', 'regionNum', 'regTime'])
export class User {
  @Field(() => Int, { description: 'The internal user id' })
  @PrimaryGeneratedColumn({ name: 'id', type: 'integer' })
  uid: number;

  /** GeTui client id of the current device; null once the device is unknown. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  cid: string | null;

  /** SHA-256 (hex) of the device secret; the secret itself is shown once at register. */
  @Column({ name: 'ukey_hash', type: 'varchar', length: 64 })
  ukeyHash: string;

  /** Country calling code; in the API, only to those who know the number (UserResolver.regionNum). */
  @Column({ name: 'region_num', type: 'varchar', length: 4 })
  regionNum: string;

  /** National number, digits only. Never leaves the server. */
  @Column({ name: 'phone_num', type: 'varchar', length: 17 })
  phoneNum: string;

  /** SHA-256 of the E.164 number; in the API, only to those who know the number (UserResolver.phoneHash). */
  @Column({ name: 'phone_hash', type: 'varchar', length: 64, unique: true })
  phoneHash: string;

  @Field(() => String)
  @Column({ type: 'varchar', length: 64 })
  nickname: string;

  @Field(() => Date, { description: 'When the account was first registered' })
  @Column({ name: 'reg_time', type: 'datetime', precision: 3 })
  regTime: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;

  /** Settings, never shown to others; set in code on insert (a DB default would cost a re-read). */
  @Column({ name: 'who_can_send_me', type: 'varchar', length: 8 })
  whoCanSendMe: WhoCanSend;

  /** False hides the user from contact discovery. */
  @Column({ type: 'boolean' })
  discoverable: boolean;

  @Field(() => String, {
    nullable: true,
    description: "The device's X25519 public key (32 bytes, base64) for end-to-end encrypted (sealed) sends",
  })
  @Column({ name: 'public_key', type: 'varchar', length: 44, nullable: true })
  publicKey: string | null;

  /** The registration lock PIN's slow hash with its parameters (see registration-lock.ts); null: no lock. */
  @Column({ name: 'registration_lock', type: 'varchar', length: 160, nullable: true })
  registrationLock: string | null;

  /** The last authenticated request, recorded at most once an hour; a lock lapses when this grows old. */
  @Column({ name: 'last_seen_at', type: 'datetime', precision: 3, nullable: true })
  lastSeenAt: Date | null;
}
