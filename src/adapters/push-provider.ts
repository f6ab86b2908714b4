/**
 * The push provider contract: one method that sends one push to one device and says what became
 * of it. The dispatcher decides what an outcome means for the job (retry, fail, done); a provider
 * only classifies what it saw. Anything a provider can fix by itself (a token to refresh, another
 * host to try) it handles inside `send`.
 */

/** GeTui keeps a push for an offline device at most 3 days; no provider is asked for more. */
export const MAX_PUSH_TTL_MS = 3 * 24 * 3600_000;

export interface PushMessage {
  /** 10 to 32 characters, the same on every retry of this push, so the provider can drop duplicates. */
  requestId: string;
  /** The receiving device's push client id, read when the job is sent. */
  cid: string;
  /** The JSON text the app receives (GeTui: the transmission). */
  payload: string;
  /** How long the provider may keep the push for an offline device, in milliseconds. */
  ttlMs: number;
  /** What an offline phone shows when the push arrives through the vendor channel (APNs). */
  alert: { title: string; body: string };
  /** For logs only: what the push is about and whom it is for (never a phone number). */
  kind: string;
  jobId: number;
  receiverUid: number;
}

export type PushResult =
  /** The provider accepted the push. `detail` is its own word for it (e.g. successed_offline). */
  | { outcome: 'sent'; detail?: string }
  /** Not this time: a network error, an outage, a rate limit. `retryAfterMs` when it asked for a pause. */
  | { outcome: 'retry'; reason: string; retryAfterMs?: number }
  /** Trying again cannot help (an invalid cid, a blacklisted app, a spent quota). */
  | { outcome: 'give-up'; reason: string };

export interface PushProvider {
  /** Where pushes go, for the start-up log line. */
  readonly description: string;
  /** Never throws for a provider's failure: it answers with an outcome instead. */
  send(message: PushMessage): Promise<PushResult>;
}
