import type { Group } from './entities/group.entity';
import type { User } from './entities/user.entity';
import type { Logger } from './logger';
import type { GrantRef } from './repositories/message.repository';
import type { BatchLoader } from './services/batch.loader';
import { NumberVisibility } from './services/number-visibility';

/** What every resolver knows about the request it serves. */
export interface Context {
  /** The authenticated user, or null when the request carries no valid token. */
  viewer: User | null;
  /** The client's address (behind trusted proxies, the one they report), for rate limits. */
  ip?: string;
  /** The request's logger: every line carries its request id. */
  log?: Logger;
  /** The groups the viewer may see, batched over the request; made on first use. */
  visibleGroups?: BatchLoader<number, Group | null>;
  /** Whose phone numbers the viewer may be shown in this request; made on first use. */
  numbers?: NumberVisibility;
  /** The download grants of the messages the request lists, by message id, batched; made on first use. */
  downloadGrants?: BatchLoader<number, GrantRef | null>;
}

/** Present only behind @Authorized(): the auth checker has already refused requests without one. */
export function viewerOf(ctx: Context): User {
  return ctx.viewer as User;
}

/** The request's record of the phone numbers its viewer already knows (see NumberVisibility). */
export function numbersOf(ctx: Context): NumberVisibility {
  return (ctx.numbers ??= new NumberVisibility(ctx.viewer?.uid ?? null));
}
