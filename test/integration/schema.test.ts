import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { createSchema, printSchemaFile } from '../../src/schema';

describe('schema.graphql', () => {
  it('is exactly the schema the code builds (run `npm run schema` after changing it)', async () => {
    const built = printSchemaFile(await createSchema({ get: () => ({}) }));
    const committed = fs.readFileSync(path.resolve(__dirname, '../../../schema.graphql'), 'utf8');
    expect(committed).to.equal(built);
  });
});
