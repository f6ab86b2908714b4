import type { User } from '../entities/user.entity';

/** What became of a sent image, as its sender sees it. */
export enum DeliveryStatus {
  PENDING = 'PENDING',
  DOWNLOADED = 'DOWNLOADED',
  VIEWED = 'VIEWED',
  EXPIRED = 'EXPIRED',
}

/** One sent message as its sender sees it (the GraphQL `SentImage` type has these fields). */
export interface SentImageView {
  id: number;
  receiver: User;
  sendTime: Date;
  status: DeliveryStatus;
  downloadedAt: Date | null;
  destroyedAt: Date | null;
  screenshotAt: Date | null;
}
