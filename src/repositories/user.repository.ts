import type { User } from '../entities/user.entity';

export interface DeviceRegistration {
  phoneHash: string;
  regionNum: string;
  phoneNum: string;
  nickname: string;
  cid: string;
  ukeyHash: string;
  /** The new device's public key, or null: a key of the old device must not outlive the move. */
  publicKey?: string | null;
  now: Date;
}

/** Where users live. The service holds the rules; this only reads and writes rows. */
export interface UserRepository {
  findById(uid: number): Promise<User | null>;
  /** The users among these ids that exist. */
  findByIds(uids: number[]): Promise<User[]>;
  findByPhoneHash(phoneHash: string): Promise<User | null>;
  /** Creates the user, or binds the existing one to the new device; safe under concurrent calls. */
  registerDevice(reg: DeviceRegistration): Promise<{ user: User; created: boolean }>;
  updateCid(uid: number, cid: string, now: Date): Promise<User | null>;
  updatePublicKey(uid: number, publicKey: string, now: Date): Promise<User | null>;
}
