import { Core1764300000000 } from './1764300000000-core';
import { AccountSecurity1764500000000 } from './1764500000000-account-security';

/** Every migration, oldest first. */
export const migrations = [Core1764300000000, AccountSecurity1764500000000];
