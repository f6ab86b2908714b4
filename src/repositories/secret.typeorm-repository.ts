import { DataSource, IsNull } from 'typeorm';
import { ServerSecret } from '../entities/server-secret.entity';
import type { SecretRepository, StoredSecret } from './secret.repository';

export class TypeormSecretRepository implements SecretRepository {
  constructor(private readonly db: DataSource) {}

  async find(name: string): Promise<StoredSecret | null> {
    const row = await this.db.getRepository(ServerSecret).findOneBy({ name });
    return row ? { name: row.name, value: row.value, keyId: row.keyId } : null;
  }

  async insertIfAbsent(secret: StoredSecret): Promise<void> {
    // INSERT IGNORE / INSERT OR IGNORE: when instances start together, the first write wins.
    await this.db.getRepository(ServerSecret).createQueryBuilder().insert().values(secret).orIgnore().execute();
  }

  async replace(expected: StoredSecret, next: Pick<StoredSecret, 'value' | 'keyId'>): Promise<boolean> {
    const where = { name: expected.name, value: expected.value, keyId: expected.keyId ?? IsNull() };
    const r = await this.db.getRepository(ServerSecret).update(where, next);
    return r.affected === 1;
  }

  async list(): Promise<StoredSecret[]> {
    return (await this.db.getRepository(ServerSecret).find({ order: { name: 'ASC' } })).map((r) => ({
      name: r.name,
      value: r.value,
      keyId: r.keyId,
    }));
  }

  async delete(name: string): Promise<void> {
    await this.db.getRepository(ServerSecret).delete({ name });
  }
}
