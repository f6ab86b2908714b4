import type { User } from './entities/user.entity';

/** What every resolver knows about the request it serves. */
export interface Context {
  /** The authenticated user, or null when the request carries no valid token. */
  viewer: User | null;
}

/** Present only behind @Authorized(): the auth checker has already refused requests without one. */
export function viewerOf(ctx: Context): User {
  return ctx.viewer as User;
}
