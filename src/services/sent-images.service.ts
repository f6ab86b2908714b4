import type { User } from '../entities/user.entity';
import type { MessageRepository } from '../repositories/message.repository';
import { DeliveryStatus, SentImageView } from './sent-image';

/** How many of the newest sends the sender's list shows. */
const SENT_LIST_LIMIT = 500;

/** The sender's side of view-once images: what became of each one sent. */
export class SentImagesService {
  constructor(
    private readonly messages: Pick<MessageRepository, 'listSent'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** What happened to the viewer's sent images, newest first. */
  async list(viewer: User): Promise<SentImageView[]> {
    const now = this.now();
    const rows = await this.messages.listSent(viewer.uid, SENT_LIST_LIMIT);
    return rows.map((m) => {
      // A send to someone who blocked the sender looks like an image never opened.
      const blocked = m.endReason === 'blocked';
      const expired = m.image.expiresAt <= now;
      let status: DeliveryStatus;
      if (m.endReason === 'confirmed') status = DeliveryStatus.VIEWED;
      else if (m.exist && !expired) status = m.downloadedAt ? DeliveryStatus.DOWNLOADED : DeliveryStatus.PENDING;
      else if (blocked && !expired) status = DeliveryStatus.PENDING;
      else status = DeliveryStatus.EXPIRED;
      return {
        id: m.id,
        receiver: m.receiver!,
        sendTime: m.sendTime,
        status,
        downloadedAt: m.downloadedAt,
        destroyedAt: blocked ? null : m.image.endedAt,
        screenshotAt: m.screenshotAt,
      };
    });
  }
}
