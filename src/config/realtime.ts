import type { EnvReader } from './env-reader';

/** Subscriptions over WebSocket (GraphQL over graphql-transport-ws on /graphql). */
export interface RealtimeConfig {
  /** Open subscriptions one user may hold (across instances with REDIS_URL, else per instance). */
  subscriptionsPerUser: number;
  /** Without REDIS_URL: how often each instance reads new outbox rows for its subscribers. */
  pollMs: number;
  /** How often an open connection's token is checked again. */
  authCheckMs: number;
  /** WebSocket ping interval; a socket that does not answer within as long is dropped. */
  keepAliveMs: number;
}

export interface RealtimeSection {
  realtime: RealtimeConfig;
}

/** SUBSCRIPTIONS_PER_USER and REALTIME_*. */
export function realtimeConfig(r: EnvReader): RealtimeSection {
  return {
    realtime: {
      subscriptionsPerUser: r.int('SUBSCRIPTIONS_PER_USER', 5, 1, 100_000),
      pollMs: r.int('REALTIME_POLL_MS', 1000, 10, 60_000),
      authCheckMs: r.int('REALTIME_AUTH_CHECK_SECONDS', 45, 1, 3600) * 1000,
      keepAliveMs: r.int('REALTIME_KEEPALIVE_SECONDS', 12, 1, 3600) * 1000,
    },
  };
}
