/**
 * What each push says, as pure functions. The app reads these JSON texts, so their keys are a
 * contract (DESIGN.md, "Push"): an image push has exactly the five keys below; a group send will
 * add `group_id`, and other events carry an `event` key instead.
 */

export const PUSH_KIND_IMAGE = 'image';

export interface ImagePushFacts {
  senderRegion: string;
  /** The sender's phoneHash, never the number. */
  senderPhoneHash: string;
  messageId: number;
  messageKey: string;
  sendTime: Date;
}

export function imagePushPayload(f: ImagePushFacts): string {
  return JSON.stringify({
    sender_region: f.senderRegion,
    sender_phone: f.senderPhoneHash,
    message_id: f.messageId,
    message_key: f.messageKey,
    send_time: f.sendTime.toISOString(),
  });
}

/**
 * The text a phone shows when a push reaches it through the vendor channel (APNs) while the app
 * is not running. It names no one: a locked screen is not the place for who sent what.
 */
export function pushAlert(kind: string): { title: string; body: string } {
  switch (kind) {
    case PUSH_KIND_IMAGE:
      return { title: 'Glimpse', body: 'You have a new image' };
    default:
      return { title: 'Glimpse', body: 'You have something new' };
  }
}
