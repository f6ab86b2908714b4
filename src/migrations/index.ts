import { Core1764300000000 } from './1764300000000-core';
import { PushOutbox1764400000000 } from './1764400000000-push-outbox';
import { AccountSecurity1764500000000 } from './1764500000000-account-security';
import { Lifecycle1764600000000 } from './1764600000000-lifecycle';
import { Social1764700000000 } from './1764700000000-social';
import { ProvableDeletion1764800000000 } from './1764800000000-provable-deletion';
import { Retention1764900000000 } from './1764900000000-retention';
import { RegistrationLock1765000000000 } from './1765000000000-registration-lock';
import { DeletionAudit1765100000000 } from './1765100000000-deletion-audit';

/** Every migration, oldest first. */
export const migrations = [
  Core1764300000000,
  PushOutbox1764400000000,
  AccountSecurity1764500000000,
  Lifecycle1764600000000,
  Social1764700000000,
  ProvableDeletion1764800000000,
  Retention1764900000000,
  RegistrationLock1765000000000,
  DeletionAudit1765100000000,
];
