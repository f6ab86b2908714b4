import { FriendshipState } from '../entities/friendship.entity';
import type { AccountRows, ExportedMessage } from '../repositories/account-lifecycle.repository';
import { DeliveryStatus } from './sent-image';

/** Names the document's layout, so that a later change of it can be told apart. */
export const EXPORT_FORMAT = 'glimpse-export-v1';

/**
 * The data export as one JSON document: everything held about the account, and of anyone else
 * only uid and nickname. Nothing secret is in it: no ukey or PIN hash, no image bytes, keys,
 * object names or content hashes, and no sign of who blocked the account.
 */
export function exportDocument(rows: AccountRows, now: Date): Record<string, unknown> {
  const { user } = rows;
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const friends = rows.friendships.filter((f) => f.state === FriendshipState.FRIENDS);
  const requests = rows.friendships.filter((f) => f.state === FriendshipState.REQUESTED);
  const message = (m: ExportedMessage) => ({
    id: m.id,
    groupId: m.groupId,
    sendTime: iso(m.sendTime),
    filetype: m.filetype,
    size: m.size,
    expiresAt: iso(m.expiresAt),
    downloadedAt: iso(m.downloadedAt),
    screenshotAt: iso(m.screenshotAt),
  });
  return {
    format: EXPORT_FORMAT,
    exportedAt: now.toISOString(),
    profile: {
      uid: user.uid,
      nickname: user.nickname,
      phoneNumber: `+${user.regionNum}${user.phoneNum}`,
      regionNum: user.regionNum,
      phoneNum: user.phoneNum,
      phoneHash: user.phoneHash,
      regTime: iso(user.regTime),
      updatedAt: iso(user.updatedAt),
      lastSeenAt: iso(user.lastSeenAt),
      pushClientId: user.cid,
    },
    settings: {
      whoCanSendMe: user.whoCanSendMe,
      discoverable: user.discoverable,
      registrationLock: user.registrationLock !== null,
    },
    publicKey: user.publicKey,
    friends: friends.map((f) => ({ uid: f.other.uid, nickname: f.other.nickname, since: iso(f.updatedAt) })),
    friendRequests: {
      incoming: requests
        .filter((f) => f.requesterUid !== user.uid)
        .map((f) => ({ uid: f.other.uid, nickname: f.other.nickname, at: iso(f.createdAt) })),
      outgoing: requests
        .filter((f) => f.requesterUid === user.uid)
        .map((f) => ({ uid: f.other.uid, nickname: f.other.nickname, at: iso(f.createdAt) })),
    },
    blocked: rows.blocks.map((b) => ({ uid: b.other.uid, nickname: b.other.nickname, since: iso(b.createdAt) })),
    groups: rows.groups.map((g) => ({
      id: g.id,
      name: g.name,
      owner: g.owner,
      createdAt: iso(g.createdAt),
      joinedAt: iso(g.joinedAt),
      members: g.members,
    })),
    messagesSent: rows.sent.map((m) => {
      const view = sentView(m, now);
      return { ...message(m), receiver: m.other, status: view.status, destroyedAt: iso(view.destroyedAt) };
    }),
    messagesReceived: rows.received.map((m) => ({
      ...message(m),
      sender: m.other,
      exist: m.exist,
      endReason: m.endReason,
      endedAt: iso(m.endedAt),
    })),
  };
}

/**
 * A sent message as `sentImages` shows it: a send to someone who blocked the sender looks like
 * an image never opened, here too.
 */
function sentView(m: ExportedMessage, now: Date): { status: DeliveryStatus; destroyedAt: Date | null } {
  const blocked = m.endReason === 'blocked';
  const expired = m.expiresAt <= now;
  let status: DeliveryStatus;
  if (m.endReason === 'confirmed') status = DeliveryStatus.VIEWED;
  else if (m.exist && !expired) status = m.downloadedAt ? DeliveryStatus.DOWNLOADED : DeliveryStatus.PENDING;
  else if (blocked && !expired) status = DeliveryStatus.PENDING;
  else status = DeliveryStatus.EXPIRED;
  return { status, destroyedAt: blocked ? null : m.imageEndedAt };
}
