import { BatchLoader } from './batch.loader';

/** Which of some users are friends of a viewer, in one lookup. */
export interface FriendLookup {
  friendsAmong(viewerUid: number, uids: number[]): Promise<Set<number>>;
}

/**
 * Whose phone number (phoneHash, regionNum) one request's viewer may be shown: only the numbers
 * the viewer already knows. A phone hash is the number (about ten digits are reversed by brute
 * force in seconds) and uids are sequential, so what is shown for any uid is shown for everyone.
 *
 * The viewer knows its own number and its friends' numbers; the friend check for every user a
 * response names in one tick is one lookup. Operations that answer with numbers the viewer
 * brought or was already given mark them with `reveal`: register (the registrant's own),
 * discovery (the hashes the viewer sent), a message's sender for its receiver (whose push
 * carries the sender's hash).
 */
export class NumberVisibility {
  private readonly known = new Set<number>();
  private friends: BatchLoader<number, boolean> | null = null;

  constructor(private readonly viewerUid: number | null) {}

  /** The viewer already has these users' numbers. */
  reveal(uids: Iterable<number>): void {
    for (const uid of uids) this.known.add(uid);
  }

  /** Whether the viewer may be shown this user's number: at once when known, else by the friend check. */
  visible(uid: number, lookup: FriendLookup): boolean | Promise<boolean> {
    if (uid === this.viewerUid || this.known.has(uid)) return true;
    const viewerUid = this.viewerUid;
    if (viewerUid === null) return false;
    this.friends ??= new BatchLoader(async (uids) => {
      const friends = await lookup.friendsAmong(viewerUid, uids);
      return new Map(uids.map((u) => [u, friends.has(u)]));
    }, false);
    return this.friends.load(uid);
  }

  /** `value` when the viewer may see this user's number, else null. */
  shown<T>(uid: number, value: T, lookup: FriendLookup): T | null | Promise<T | null> {
    const visible = this.visible(uid, lookup);
    if (typeof visible === 'boolean') return visible ? value : null;
    return visible.then((v) => (v ? value : null));
  }
}
