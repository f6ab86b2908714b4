import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { createSchema, printSchemaFile } from './schema';

/** Writes schema.graphql from the code (`npm run schema`); a test fails when the file is stale. */
async function emit(): Promise<void> {
  const schema = await createSchema({ get: () => ({}) });
  const file = path.resolve(__dirname, '../../schema.graphql');
  fs.writeFileSync(file, printSchemaFile(schema));
  process.stdout.write(`wrote ${file}\n`);
}

emit().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
