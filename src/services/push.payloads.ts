/**
 * What each push says, as pure functions. The app reads these JSON texts, so their keys are a
 * contract (docs/api.md, "Pushes"): an image push has exactly the five keys below, plus `group_id`
 * for a group send; every other push carries an `event` key instead.
 */

export const PUSH_KIND_IMAGE = 'image';

export interface ImagePushFacts {
  senderRegion: string;
  /** The sender's phoneHash, never the number. */
  senderPhoneHash: string;
  messageId: number;
  messageKey: string;
  sendTime: Date;
  /** Set for a group send. */
  groupId?: number;
}

export function imagePushPayload(f: ImagePushFacts): string {
  return JSON.stringify({
    sender_region: f.senderRegion,
    sender_phone: f.senderPhoneHash,
    message_id: f.messageId,
    message_key: f.messageKey,
    send_time: f.sendTime.toISOString(),
    ...(f.groupId !== undefined ? { group_id: f.groupId } : {}),
  });
}

export const PUSH_KIND_FRIEND_REQUEST = 'friend_request';
export const PUSH_KIND_FRIEND_ACCEPTED = 'friend_accepted';

interface Person {
  uid: number;
  nickname: string;
}

/**
 * Someone asked the receiver to be friends. No phone hash: the receiver does not know the asker's
 * number yet, and a request is no reason to learn it (friendRequests shows none either).
 */
export function friendRequestPush(from: Person): Record<string, unknown> {
  return { event: PUSH_KIND_FRIEND_REQUEST, uid: from.uid, nickname: from.nickname };
}

/** The receiver's request was accepted by `by`: friends now, they may see each other's numbers. */
export function friendAcceptedPush(by: Person & { phoneHash: string }): Record<string, unknown> {
  return { event: PUSH_KIND_FRIEND_ACCEPTED, uid: by.uid, nickname: by.nickname, phone_hash: by.phoneHash };
}

export const PUSH_KIND_IMAGE_DESTROYED = 'image_destroyed';
export const PUSH_KIND_SCREENSHOT = 'screenshot';

/** To the sender: the image's key is gone; `receipt` is the server's signature over the other fields. */
export function imageDestroyedPush(f: { messageId: number; reason: string; destroyedAt: Date; receipt: string }): Record<string, unknown> {
  return {
    event: PUSH_KIND_IMAGE_DESTROYED,
    message_id: f.messageId,
    reason: f.reason,
    destroyed_at: f.destroyedAt.toISOString(),
    receipt: f.receipt,
  };
}

/** To the sender: the receiver reported a screenshot of the image. */
export function screenshotPush(messageId: number): Record<string, unknown> {
  return { event: PUSH_KIND_SCREENSHOT, message_id: messageId };
}

export const PUSH_KIND_ACCOUNT_MOVED = 'account_moved';

/** To the old device of an account just registered on another one: it is signed out. */
export function accountMovedPush(movedAt: Date): Record<string, unknown> {
  return { event: PUSH_KIND_ACCOUNT_MOVED, moved_at: movedAt.toISOString() };
}

/**
 * The text a phone shows when a push reaches it through the vendor channel (APNs) while the app
 * is not running. It names no one: a locked screen is not the place for who sent what.
 */
export function pushAlert(kind: string): { title: string; body: string } {
  switch (kind) {
    case PUSH_KIND_IMAGE:
      return { title: 'Glimpse', body: 'You have a new image' };
    case PUSH_KIND_FRIEND_REQUEST:
      return { title: 'Glimpse', body: 'You have a new friend request' };
    case PUSH_KIND_FRIEND_ACCEPTED:
      return { title: 'Glimpse', body: 'A friend request was accepted' };
    case PUSH_KIND_IMAGE_DESTROYED:
      return { title: 'Glimpse', body: 'An image you sent was deleted' };
    case PUSH_KIND_SCREENSHOT:
      return { title: 'Glimpse', body: 'Someone took a screenshot of an image you sent' };
    case PUSH_KIND_ACCOUNT_MOVED:
      return { title: 'Glimpse', body: 'Your account was registered on another device' };
    default:
      return { title: 'Glimpse', body: 'You have something new' };
  }
}
