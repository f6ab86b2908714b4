import type { RateLimitName } from '../config';

/** Why an image's blob was deleted. */
export type ImageDestroyReason =
  /** Its receiver confirmed it (or it was confirmed automatically after a complete download). */
  | 'viewed'
  /** Its lifetime ran out. */
  | 'expired'
  /** Its messages had all ended earlier; the expiry sweep removed the blob the ending left behind. */
  | 'ended'
  /** The blob was found missing from the store. */
  | 'missing';

/** What became of one push attempt. */
export type PushJobOutcomeLabel = 'sent' | 'retry' | 'failed' | 'skipped';

/** The GraphQL operation type, or `unknown` for a request that never got as far as one. */
export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

/**
 * What the server counts for its operators. Services record events through this contract and
 * never see the metrics library; every label value comes from a small fixed set (never user data).
 */
export interface Metrics {
  /** One GraphQL request answered: its operation's label, type, first error code (or OK), duration. */
  graphqlRequest(operation: string, type: OperationType, code: string, seconds: number): void;
  /** One send accepted, its upload `bytes` long (a group send counts once). */
  imageSent(bytes: number): void;
  /** Image bytes a download response delivered. */
  imageBytesServed(bytes: number): void;
  imageDestroyed(reason: ImageDestroyReason): void;
  /** `kind` is the push job's kind, a name from the code (image, screenshot, receipt, …). */
  pushJob(kind: string, outcome: PushJobOutcomeLabel): void;
  /** A rate limit refused an action. */
  rateLimited(rule: RateLimitName): void;
  /** Open GraphQL subscriptions on this instance: one more, one fewer, or the count as it is. */
  subscriptionOpened(): void;
  subscriptionClosed(): void;
  setSubscriptionsOpen(count: number): void;
}

/** Counts nothing: for servers without a metrics port, and for unit tests. */
export const noMetrics: Metrics = {
  graphqlRequest: () => undefined,
  imageSent: () => undefined,
  imageBytesServed: () => undefined,
  imageDestroyed: () => undefined,
  pushJob: () => undefined,
  rateLimited: () => undefined,
  subscriptionOpened: () => undefined,
  subscriptionClosed: () => undefined,
  setSubscriptionsOpen: () => undefined,
};
