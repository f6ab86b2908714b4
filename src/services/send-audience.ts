import type { User } from '../entities/user.entity';

/** A one-to-one send goes ahead, or (the receiver blocked the sender) is read and discarded. */
export type DirectDelivery = 'deliver' | 'discard';

export interface GroupDelivery {
  groupId: number;
  /** Other members who get the image. */
  deliver: number[];
  /** Other members who blocked the sender: their messages are born ended. */
  discard: number[];
}

/** What a send needs to know of the social graph (blocks, whoCanSendMe, group membership). */
export interface SendAudience {
  /** The receiver and whether the send goes ahead: NOT_FOUND when there is no such user, FORBIDDEN when they do not take images from the sender. */
  direct(sender: User, receiverUid: number): Promise<{ receiver: User; delivery: DirectDelivery }>;
  /** NOT_FOUND when the sender is not a member of the group. */
  group(sender: User, groupId: number): Promise<GroupDelivery>;
}
