import { DataSource } from 'typeorm';
import { ServerSecret } from '../entities/server-secret.entity';
import type { SecretRepository } from './secret.repository';

export class TypeormSecretRepository implements SecretRepository {
  constructor(private readonly db: DataSource) {}

  async getOrCreate(name: string, make: () => string): Promise<string> {
    const repo = this.db.getRepository(ServerSecret);
    const existing = await repo.findOneBy({ name });
    if (existing) return existing.value;
    // INSERT IGNORE / INSERT OR IGNORE: when instances start together, the first write wins.
    await repo.createQueryBuilder().insert().values({ name, value: make() }).orIgnore().execute();
    return (await repo.findOneByOrFail({ name })).value;
  }
}
