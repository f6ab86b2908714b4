import type { Message } from '../entities/message.entity';
import type { User } from '../entities/user.entity';

/**
 * The JSON the app receives, built in one place. An image push has exactly the original
 * specification's five keys (plus `group_id` for a group send); every other push has an `event`.
 */

export type ImagePush = {
  sender_region: string;
  sender_phone: string;
  message_id: number;
  message_key: string;
  send_time: string;
  group_id?: number;
};

export function imagePush(sender: User, message: Pick<Message, 'id' | 'messageKey' | 'sendTime'>, groupId?: number): ImagePush {
  const payload: ImagePush = {
    sender_region: sender.regionNum,
    sender_phone: sender.phoneHash,
    message_id: message.id,
    message_key: message.messageKey,
    send_time: message.sendTime.toISOString(),
  };
  if (groupId !== undefined) payload.group_id = groupId;
  return payload;
}

/** Someone asked the receiver to be friends. */
export function friendRequestPush(from: User): Record<string, unknown> {
  return { event: 'friend_request', uid: from.uid, nickname: from.nickname, phone_hash: from.phoneHash };
}

/** The receiver's request was accepted by `by`. */
export function friendAcceptedPush(by: User): Record<string, unknown> {
  return { event: 'friend_accepted', uid: by.uid, nickname: by.nickname, phone_hash: by.phoneHash };
}
