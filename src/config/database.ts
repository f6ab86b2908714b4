import path from 'node:path';
import type { EnvReader } from './env-reader';

export type DatabaseConfig = { kind: 'mysql'; url: string; database: string } | { kind: 'sqlite'; file: string };

export interface DatabaseSection {
  database: DatabaseConfig;
  migrationsRun: boolean;
}

/** DATABASE_URL (SQLite in DATA_DIR unless set) and MIGRATIONS_RUN. */
export function databaseConfig(r: EnvReader, dataDir: string): DatabaseSection {
  return {
    database: parseDatabaseUrl(r, r.str('DATABASE_URL', `sqlite:${path.join(dataDir, 'glimpse.sqlite')}`)),
    migrationsRun: r.bool('MIGRATIONS_RUN', true),
  };
}

function parseDatabaseUrl(r: EnvReader, raw: string): DatabaseConfig {
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!file) r.problem('DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/glimpse.sqlite');
    return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(file || 'glimpse.sqlite') };
  }
  try {
    const u = new URL(raw);
    if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new Error('protocol');
    const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (!database) throw new Error('no database');
    if (u.protocol === 'mariadb:') u.protocol = 'mysql:';
    return { kind: 'mysql', url: u.toString(), database };
  } catch {
    r.problem(`DATABASE_URL: expected mysql://user:pass@host:3306/db or sqlite:<path>, got "${redactUrl(raw)}"`);
    return { kind: 'sqlite', file: ':memory:' };
  }
}

/** Keeps a password out of error messages and logs. */
export function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}
