import { Core1764300000000 } from './1764300000000-core';
import { Lifecycle1764600000000 } from './1764600000000-lifecycle';
import { Social1764700000000 } from './1764700000000-social';

/** Every migration, oldest first. */
export const migrations = [Core1764300000000, Lifecycle1764600000000, Social1764700000000];
