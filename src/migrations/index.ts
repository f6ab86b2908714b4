import { Core1764300000000 } from './1764300000000-core';
import { PushOutbox1764400000000 } from './1764400000000-push-outbox';

/** Every migration, oldest first. */
export const migrations = [Core1764300000000, PushOutbox1764400000000];
