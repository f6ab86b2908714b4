import 'reflect-metadata';
import { loadConfig } from './src/config';
import { createDataSource } from './src/database';

/** The DataSource for the TypeORM CLI (`npm run typeorm -- migration:run`), from the same config as the server. */
export default createDataSource(loadConfig().database);
