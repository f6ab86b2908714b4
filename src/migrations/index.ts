import { Core1764300000000 } from './1764300000000-core';

/** Every migration, oldest first. */
export const migrations = [Core1764300000000];
