import { accountLifecycleContract } from '../support/contracts/account-lifecycle.contract';
import { messageRepositoryContract } from '../support/contracts/message-repository.contract';
import { pushJobRepositoryContract } from '../support/contracts/push-job-repository.contract';
import { socialRepositoryContract } from '../support/contracts/social-repository.contract';
import { userRepositoryContract } from '../support/contracts/user-repository.contract';
import { verificationCodeRepositoryContract } from '../support/contracts/verification-code-repository.contract';
import { databaseWorlds, fakeWorld, World, WorldFactory } from '../support/contracts/world';
import { createTestDatabase } from '../support/mysql';
import { needsMysql } from '../support/services';

/**
 * The fakes the unit tests use and the TypeORM repositories the server uses meet the same
 * expectations: what a unit test proves with a fake holds with the real thing.
 */
const contracts = [
  userRepositoryContract,
  messageRepositoryContract,
  pushJobRepositoryContract,
  verificationCodeRepositoryContract,
  socialRepositoryContract,
  accountLifecycleContract,
];

function runAll(make: WorldFactory): void {
  for (const contract of contracts) contract(make);
}

describe('repository contract: the fakes (test/support/fakes.ts)', () => {
  runAll(fakeWorld);
});

describe('repository contract: TypeORM on SQLite (in memory)', function () {
  this.timeout(30_000);
  let worlds: Awaited<ReturnType<typeof databaseWorlds>> | undefined;
  before(async () => {
    worlds = await databaseWorlds({ kind: 'sqlite', file: ':memory:' });
  });
  after(() => worlds?.close());
  runAll((): Promise<World> => worlds!.make());
});

describe('repository contract: TypeORM on MySQL/MariaDB', function () {
  this.timeout(60_000);
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let worlds: Awaited<ReturnType<typeof databaseWorlds>> | undefined;
  before(async function () {
    needsMysql(this);
    database = await createTestDatabase('glimpse_contract');
    worlds = await databaseWorlds({ kind: 'mysql', url: database.url, database: database.name });
  });
  after(async () => {
    await worlds?.close();
    await database?.drop();
  });
  runAll((): Promise<World> => worlds!.make());
});
