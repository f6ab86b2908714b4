import type { OutboxRow } from '../repositories/push-job.repository';
import {
  PUSH_KIND_FRIEND_ACCEPTED,
  PUSH_KIND_FRIEND_REQUEST,
  PUSH_KIND_IMAGE,
  PUSH_KIND_IMAGE_DESTROYED,
  PUSH_KIND_SCREENSHOT,
} from './push.payloads';

/** What happened, as a subscriber hears it. */
export enum EventKind {
  IMAGE_RECEIVED = 'IMAGE_RECEIVED',
  IMAGE_DESTROYED = 'IMAGE_DESTROYED',
  SCREENSHOT = 'SCREENSHOT',
  FRIEND_REQUEST = 'FRIEND_REQUEST',
  FRIEND_ACCEPTED = 'FRIEND_ACCEPTED',
  ACCOUNT_MOVED = 'ACCOUNT_MOVED',
}

/**
 * Every push becomes an event: this table is the only place that says which. The key is the
 * push payload's `event` name, or the job's kind for an image push (it carries no `event` key).
 * A push kind missing here is delivered by push only.
 */
export const EVENT_KIND_BY_PUSH: Readonly<Record<string, EventKind>> = {
  [PUSH_KIND_IMAGE]: EventKind.IMAGE_RECEIVED,
  [PUSH_KIND_IMAGE_DESTROYED]: EventKind.IMAGE_DESTROYED,
  [PUSH_KIND_SCREENSHOT]: EventKind.SCREENSHOT,
  [PUSH_KIND_FRIEND_REQUEST]: EventKind.FRIEND_REQUEST,
  [PUSH_KIND_FRIEND_ACCEPTED]: EventKind.FRIEND_ACCEPTED,
  // {"event":"account_moved","moved_at":...}: the account was registered on another device.
  account_moved: EventKind.ACCOUNT_MOVED,
};

/** One event for one user: the facts of one outbox row. */
export interface RealtimeEvent {
  /** The outbox row it was made from. */
  id: number;
  receiverUid: number;
  kind: EventKind;
  /** When it happened: the push's own time (send, destruction, move), else when it was queued. */
  at: Date;
  messageId: number | null;
  /** IMAGE_RECEIVED: the message, looked up for the receiver when the event is resolved. */
  messageKey: string | null;
  reason: string | null;
  receipt: string | null;
  /** FRIEND_REQUEST, FRIEND_ACCEPTED: the other person. */
  userUid: number | null;
}

/** The event an outbox row announces, or null when its push has no event (or cannot be read). */
export function eventFromOutbox(row: OutboxRow): RealtimeEvent | null {
  let payload: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(row.payload);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    payload = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  const name = typeof payload.event === 'string' ? payload.event : row.kind;
  const kind = Object.hasOwn(EVENT_KIND_BY_PUSH, name) ? EVENT_KIND_BY_PUSH[name] : undefined;
  if (!kind) return null;
  return {
    id: row.id,
    receiverUid: row.receiverUid,
    kind,
    at: dateOf(payload.send_time) ?? dateOf(payload.destroyed_at) ?? dateOf(payload.moved_at) ?? new Date(row.createdAt),
    messageId: intOf(payload.message_id),
    messageKey: typeof payload.message_key === 'string' ? payload.message_key : null,
    reason: typeof payload.reason === 'string' ? payload.reason : null,
    receipt: typeof payload.receipt === 'string' ? payload.receipt : null,
    userUid: kind === EventKind.FRIEND_REQUEST || kind === EventKind.FRIEND_ACCEPTED ? intOf(payload.uid) : null,
  };
}

function dateOf(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function intOf(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : null;
}
