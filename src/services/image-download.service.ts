import { pipeline, type Readable } from 'node:stream';
import { BlobNotFoundError, BlobStore } from '../adapters/blob-store';
import type { Message } from '../entities/message.entity';
import type { User } from '../entities/user.entity';
import { ForbiddenError, GoneError, NotFoundError } from '../errors';
import type { Logger } from '../logger';
import type { DownloadTarget, GrantRef, MessageRepository } from '../repositories/message.repository';
import { BatchLoader } from './batch.loader';
import type { DownloadTokens } from './download-tokens';
import { KeyWrapper } from './cipher/key-wrapper';
import { SegmentDecryptor } from './cipher/segment-decryptor';
import { MIN_SEGMENT_BYTES, RELAY_BUFFER_BYTES, SEGMENT_BYTES, sealedRange, segmentBytesOf } from './cipher/segment-format';
import { lastChunkAfter, metered } from './streams';

export interface Download {
  /**
   * The bytes asked for. Their last bytes leave only once the grant is used up (when they end
   * the image), so a client that has every byte always finds its URL used up.
   */
  stream: Readable;
  /** The whole image's size. */
  size: number;
  filetype: string;
  /** The bytes `stream` carries, inclusive (the whole image unless a range was asked for). */
  start: number;
  end: number;
}

/** An HTTP byte range (inclusive), already resolved against the image's size. */
export interface RequestedRange {
  start: number;
  end: number;
}

export interface ImageDownloadDeps {
  messages: Pick<
    MessageRepository,
    | 'findByKey'
    | 'findUnusedGrants'
    | 'createGrants'
    | 'findGrant'
    | 'reserveWholeImage'
    | 'reserveGrantBytes'
    | 'releaseGrantBytes'
    | 'completeGrant'
  >;
  blobs: BlobStore;
  tokens: DownloadTokens;
  log: Logger;
  /** Unwraps each stored image's key; without it (unit tests) only unencrypted blobs are served. */
  keys?: KeyWrapper;
  now?: () => Date;
}

export interface ImageDownloadOptions {
  downloadUrlTtlSeconds: number;
  publicUrl: string;
}

const USED_UP = 'This download link has served its one download; ask for the image again for a new one';

/** A grant's byte budget is stored in a 32-bit column. */
const MAX_GRANT_BUDGET = 2 ** 31 - 1;

/** Download URLs for receivers, and the (ranged, decrypted) bytes behind them. */
export class ImageDownloadService {
  private readonly now: () => Date;

  /** Bytes of cut-short responses being given back to their grants, by grant id. */
  private readonly releasing = new Map<number, Promise<void>>();

  constructor(
    private readonly deps: ImageDownloadDeps,
    private readonly options: ImageDownloadOptions,
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * A short-lived URL a plain GET can fetch, for the receiver of a live message only. A listing
   * hands out the message's grant again while it has served nothing and has at least half its
   * lifetime left (the same URL); otherwise it makes a new one: one complete download, then 410.
   * `grants` batches the lookups of one request (see grantLoader).
   */
  async downloadUrl(
    viewer: User,
    message: Message,
    grants: BatchLoader<number, GrantRef | null> = this.grantLoader(),
  ): Promise<string | null> {
    const now = this.now();
    if (message.receiverUid !== viewer.uid || !message.exist || message.image.expiresAt <= now) return null;
    const grant = await grants.load(message.id);
    if (!grant) return null;
    const until = Math.min(grant.createdAt.getTime() + this.options.downloadUrlTtlSeconds * 1000, message.image.expiresAt.getTime());
    return `${this.options.publicUrl}/download/${this.deps.tokens.mint(message.messageKey, new Date(until), grant.id)}`;
  }

  /**
   * Finds the reusable grants of the messages a request lists in one query, and makes the
   * missing ones in one insert.
   */
  grantLoader(): BatchLoader<number, GrantRef | null> {
    return new BatchLoader(async (messageIds) => {
      const now = this.now();
      const halfLife = (this.options.downloadUrlTtlSeconds * 1000) / 2;
      const found = await this.deps.messages.findUnusedGrants(messageIds, new Date(now.getTime() - halfLife));
      const missing = messageIds.filter((id) => !found.has(id));
      if (missing.length > 0)
        for (const [id, grantId] of await this.deps.messages.createGrants(missing, now)) found.set(id, { id: grantId, createdAt: now });
      return found;
    }, null);
  }

  /**
   * Opens the bytes behind a download token (all, or `range` of them): FORBIDDEN when forged or
   * expired, NOT_FOUND once the image is gone, GONE once the URL served a complete download or
   * the bytes asked for would take it past the image plus one segment in all. Without `range`
   * (no Range header) the whole image is counted and looked up in one step; a range needs the
   * image's size first, so it takes one step more.
   */
  async openDownload(token: string, range?: (size: number) => RequestedRange | null): Promise<Download> {
    const { messages, blobs, log } = this.deps;
    const { grantId, messageKey } = this.checkToken(token);
    // What a response that was cut short gives back must be back before this one is counted.
    await this.releasing.get(grantId);
    // The smallest segment any image has: the one step never lets through what the image's own
    // budget would refuse, and a grant it turns away is looked at again the long way, which
    // also says why.
    const counted =
      range === undefined ? await messages.reserveWholeImage(grantId, messageKey, this.now(), MIN_SEGMENT_BYTES, MAX_GRANT_BUDGET) : null;
    const { messageId, image, wanted } = counted
      ? { messageId: counted.messageId, image: counted.image, wanted: { start: 0, end: counted.image.size - 1 } }
      : await this.reserveAsked(grantId, messageKey, range);
    const length = wanted.end - wanted.start + 1;
    const settle = (sent: number) => {
      if (sent >= length) return;
      const released = messages
        .releaseGrantBytes(grantId, length - sent)
        .catch((err) => log.error({ err, grantId }, 'could not give back the unsent bytes of a download'))
        .finally(() => {
          if (this.releasing.get(grantId) === released) this.releasing.delete(grantId);
        });
      this.releasing.set(grantId, released);
    };
    if (counted && !counted.exist) {
      // It ended between the count and the read: nothing is served, so the bytes go back.
      settle(0);
      throw new NotFoundError('Image');
    }
    const delivered = async () => {
      if (wanted.end !== image.size - 1) return;
      // Two downloads racing on one URL: only the first to reach the end gets its last bytes.
      if (!(await messages.completeGrant(grantId, messageId, this.now()))) throw new GoneError(USED_UP);
    };
    const opened = { size: image.size, filetype: image.filetype, start: wanted.start, end: wanted.end };
    const whole = wanted.start === 0 && wanted.end === image.size - 1;
    try {
      if (image.cipher === null) {
        const stored = await blobs.get(image.objectName, whole ? undefined : { start: wanted.start, length });
        return {
          ...opened,
          stream: metered(
            pipeline(stored, lastChunkAfter(delivered, RELAY_BUFFER_BYTES), () => undefined),
            settle,
          ),
        };
      }
      if (!image.wrappedKey || !this.deps.keys) throw new NotFoundError('Image');
      const segment = segmentBytesOf(image.cipher);
      const key = this.deps.keys.unwrap(image.wrappedKey, image.objectName, image.keyId);
      const r = sealedRange(image.size, wanted.start, wanted.end, segment);
      const sealed = await blobs.get(image.objectName, whole ? undefined : { start: r.storedStart, length: r.storedLength });
      // The store's chunks are ours alone: plaintext is written over them. pipeline: a failure on
      // either side (a tampered segment, a reader gone) closes both.
      const decryptor = new SegmentDecryptor(key, image.size, wanted.start, wanted.end, segment, { beforeLastBytes: delivered });
      return {
        ...opened,
        stream: metered(
          pipeline(sealed, decryptor, () => undefined),
          settle,
        ),
      };
    } catch (e) {
      settle(0);
      if (e instanceof BlobNotFoundError) {
        log.warn({ messageId }, 'live message has no blob');
        throw new NotFoundError('Image');
      }
      throw e;
    }
  }

  /**
   * What a GET of the token would answer, without serving or counting a byte (HTTP HEAD): the
   * same refusals (FORBIDDEN, NOT_FOUND, GONE, RANGE_NOT_SATISFIABLE), and a live URL stays live.
   */
  async describeDownload(token: string, range?: (size: number) => RequestedRange | null): Promise<Omit<Download, 'stream'>> {
    const { grantId, messageKey } = this.checkToken(token);
    const { id, image } = await this.liveMessage(messageKey);
    const grant = await this.liveGrant(grantId, id);
    const wanted = range?.(image.size) ?? { start: 0, end: image.size - 1 };
    // The budget a GET of these bytes would be counted against.
    if (grant.servedBytes + (wanted.end - wanted.start + 1) > grantBudget(image)) throw new GoneError(USED_UP);
    return { size: image.size, filetype: image.filetype, start: wanted.start, end: wanted.end };
  }

  /** The grant and message a token names: FORBIDDEN when it is forged or expired. */
  private checkToken(token: string): { grantId: number; messageKey: string } {
    const checked = this.deps.tokens.check(token, this.now());
    if (!checked.ok) {
      throw checked.reason === 'expired'
        ? new ForbiddenError('This download link has expired')
        : new ForbiddenError('Invalid download link');
    }
    return { grantId: checked.grantId, messageKey: checked.messageKey };
  }

  /**
   * Looks the message up, then counts the bytes asked for (`range` of the image, else all of it)
   * against the grant and the image's own budget; or says why not.
   */
  private async reserveAsked(
    grantId: number,
    messageKey: string,
    range: ((size: number) => RequestedRange | null) | undefined,
  ): Promise<{ messageId: number; image: DownloadTarget['image']; wanted: RequestedRange }> {
    const { messages } = this.deps;
    const message = await this.liveMessage(messageKey);
    const image = message.image;
    let wanted: RequestedRange;
    try {
      wanted = range?.(image.size) ?? { start: 0, end: image.size - 1 };
    } catch (e) {
      // A used-up URL says so, whatever range it is asked for.
      await this.liveGrant(grantId, message.id);
      throw e;
    }
    const length = wanted.end - wanted.start + 1;
    if (!(await messages.reserveGrantBytes(grantId, message.id, length, grantBudget(image)))) {
      await this.liveGrant(grantId, message.id);
      throw new GoneError(USED_UP);
    }
    return { messageId: message.id, image, wanted };
  }

  /** The message behind a token, live and unexpired: NOT_FOUND otherwise (past its lifetime, even before the sweeper ends it). */
  private async liveMessage(messageKey: string): Promise<Message> {
    const message = await this.deps.messages.findByKey(messageKey);
    if (!message || !message.exist || message.image.expiresAt <= this.now()) throw new NotFoundError('Image');
    return message;
  }

  /** The grant, when it is the message's and not used up: FORBIDDEN for another message's, GONE for a used-up one. */
  private async liveGrant(grantId: number, messageId: number): Promise<{ servedBytes: number }> {
    const grant = await this.deps.messages.findGrant(grantId);
    if (!grant || grant.messageId !== messageId) throw new ForbiddenError('Invalid download link');
    if (grant.completed) throw new GoneError(USED_UP);
    return grant;
  }
}

/** Bytes one grant may serve: the image plus one segment (a resume repeats what was in flight). */
function grantBudget(image: Pick<Message['image'], 'size' | 'cipher'>): number {
  const segment = image.cipher === null ? SEGMENT_BYTES : segmentBytesOf(image.cipher);
  return Math.min(image.size + segment, MAX_GRANT_BUDGET);
}
