import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Secrets the server makes for itself, created once and shared by every instance. */
@Entity({ name: 'server_secret' })
export class ServerSecret {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name: string;

  @Column({ type: 'varchar', length: 255 })
  value: string;
}
