import { DataSource, In, Repository } from 'typeorm';
import { User, WhoCanSend } from '../entities/user.entity';
import { isUniqueViolation } from '../database';
import type { DeviceRegistration, UserRepository } from './user.repository';

export class TypeormUserRepository implements UserRepository {
  private readonly users: Repository<User>;

  constructor(db: DataSource) {
    this.users = db.getRepository(User);
  }

  findById(uid: number): Promise<User | null> {
    return this.users.findOneBy({ uid });
  }

  findByIds(uids: number[]): Promise<User[]> {
    return uids.length ? this.users.findBy({ uid: In(uids) }) : Promise.resolve([]);
  }

  findByPhoneHash(phoneHash: string): Promise<User | null> {
    return this.users.findOneBy({ phoneHash });
  }

  async registerDevice(reg: DeviceRegistration): Promise<{ user: User; created: boolean }> {
    // Insert first: a new phone is one round trip; the unique phone_hash settles a race between
    // two devices registering the same new number (the loser moves the account, as a later call would).
    try {
      const row = this.users.create({
        cid: reg.cid,
        ukeyHash: reg.ukeyHash,
        regionNum: reg.regionNum,
        phoneNum: reg.phoneNum,
        phoneHash: reg.phoneHash,
        nickname: reg.nickname,
        regTime: reg.now,
        updatedAt: reg.now,
        whoCanSendMe: WhoCanSend.EVERYONE,
        discoverable: true,
        publicKey: reg.publicKey ?? null,
      });
      await this.users.insert(row);
      return { user: row, created: true };
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    await this.users.update(
      { phoneHash: reg.phoneHash },
      { cid: reg.cid, ukeyHash: reg.ukeyHash, nickname: reg.nickname, publicKey: reg.publicKey ?? null, updatedAt: reg.now },
    );
    const user = await this.users.findOneByOrFail({ phoneHash: reg.phoneHash });
    return { user, created: false };
  }

  async updatePublicKey(uid: number, publicKey: string, now: Date): Promise<User | null> {
    await this.users.update({ uid }, { publicKey, updatedAt: now });
    return this.users.findOneBy({ uid });
  }

  async updateCid(uid: number, cid: string, now: Date): Promise<User | null> {
    await this.users.update({ uid }, { cid, updatedAt: now });
    return this.users.findOneBy({ uid });
  }
}
