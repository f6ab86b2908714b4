import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Secrets the server makes for itself, created once and shared by every instance. */
@Entity({ name: 'server_secret' })
export class ServerSecret {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name: string;

  /** Wrapped by the master key named by `keyId`; stored as it was (plain) only by earlier versions, until the first start wraps it. */
  @Column({ type: 'varchar', length: 255 })
  value: string;

  /** The master key that wrapped `value`; null for a value an earlier version stored plain. */
  @Column({ name: 'key_id', type: 'varchar', length: 16, nullable: true })
  keyId: string | null;
}
