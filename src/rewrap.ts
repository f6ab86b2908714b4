import 'reflect-metadata';
import { ConfigError, loadConfig, redactUrl } from './config';
import { createDataSource } from './database';
import { StartupError } from './errors';
import { loadMasterKeys } from './master-key';
import { TypeormImageRepository } from './repositories/image.typeorm-repository';
import { TypeormSecretRepository } from './repositories/secret.typeorm-repository';
import { KeyWrapper } from './services/cipher/key-wrapper';
import { RewrapService } from './services/rewrap.service';

/**
 * `npm run rewrap`: after a master key rotation (ENCRYPTION_KEY new, ENCRYPTION_KEY_PREVIOUS the
 * old one, the same configuration as the servers), wraps every live image key and server
 * secret again under the current key, in batches, while the servers keep serving; then says
 * whether the previous key can go. Run it again after a stop or a crash: it goes on from where
 * it was.
 *
 *   --batch-size N    image keys per transaction (default 500)
 *   --max-batches N   stop after N batches (exit code 3 when rows are left)
 *
 * Exit codes: 0 nothing left under another key, 3 rows left (run it again), 2 bad usage or
 * configuration, 1 failure.
 */
const USAGE = 'usage: npm run rewrap [-- --batch-size N] [--max-batches N]';

function parseArgs(argv: string[]): { batchSize: number; maxBatches?: number } {
  const options: { batchSize: number; maxBatches?: number } = { batchSize: 500 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (!/^\d+$/.test(argv[i + 1] ?? '') || value < 1)
      throw new ConfigError([`${argv[i]}: expected a whole number of at least 1 (${USAGE})`]);
    if (argv[i] === '--batch-size') options.batchSize = Math.min(value, 10_000);
    else if (argv[i] === '--max-batches') options.maxBatches = value;
    else throw new ConfigError([`unknown option ${argv[i]} (${USAGE})`]);
  }
  return options;
}

async function main(): Promise<number> {
  const say = (line: string) => process.stdout.write(`rewrap: ${line}\n`);
  let options;
  let config;
  try {
    options = parseArgs(process.argv.slice(2));
    config = loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  const db = createDataSource(config.database);
  await db.initialize().catch((e: Error) => {
    const where =
      config.database.kind === 'mysql' ? `DATABASE_URL=${redactUrl(config.database.url)}` : `the SQLite file ${config.database.file}`;
    throw new StartupError(`cannot open the database (${where}): ${e.message || (e as { code?: string }).code}`, { cause: e });
  });
  try {
    if (await db.showMigrations())
      throw new StartupError(
        'the database has migrations pending: start a server of this version once first (or `npm run typeorm -- migration:run`)',
      );
    const master = await loadMasterKeys(config, null, { create: false });
    const keys = new KeyWrapper(master.current, master.previous);
    say(`wrapping every live image key and server secret under the current master key (key id ${keys.keyId}, from ${master.source})`);
    if (!keys.previousKeyId)
      say('ENCRYPTION_KEY_PREVIOUS is not set: only rows of earlier versions can be wrapped; rows under any other key are reported');
    const service = new RewrapService(new TypeormImageRepository(db), new TypeormSecretRepository(db), keys);
    const report = await service.run({
      ...options,
      onBatch: (p) => say(`${p.images} image keys re-wrapped so far (${p.batches} batches)`),
    });
    say(
      `${report.images} image keys and ${report.secrets} server secrets re-wrapped; ${report.skipped} keys changed meanwhile (destroyed or moved) and were left as they are`,
    );
    for (const [keyId, n] of Object.entries(report.unreadable))
      say(
        `${n} rows are wrapped by a master key this process does not have (key id ${keyId}): run again with that key as ENCRYPTION_KEY_PREVIOUS`,
      );
    if (report.left > 0) {
      say(
        `${report.left} live keys or secrets are still not under the current key: run \`npm run rewrap\` again; keep ENCRYPTION_KEY_PREVIOUS until it says none is left`,
      );
      return 3;
    }
    say(
      `no live key or secret is wrapped by any other master key${keys.previousKeyId ? ` (previous key id ${keys.previousKeyId})` : ''}: ` +
        'once every instance runs with the new ENCRYPTION_KEY, ENCRYPTION_KEY_PREVIOUS can be removed from their configuration',
    );
    return 0;
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const detail = err instanceof StartupError ? err.message : (err?.stack ?? err);
    process.stderr.write(`rewrap failed: ${detail}\n`);
    process.exit(1);
  },
);
