import { finished, type Readable, Transform, type Writable } from 'node:stream';

/**
 * The stream plumbing of sends and downloads: taking an upload for one reader, reading its first
 * bytes, feeding it on, counting what a download delivers, holding back its last chunk, and
 * reading what is left so that a request can finish.
 */

/** Uploads a send has taken: each is read by one send only. */
const claimed = new WeakSet<Readable>();

/** Takes `stream` for one reader; false when another has it already. */
export function claim(stream: Readable): boolean {
  if (claimed.has(stream)) return false;
  claimed.add(stream);
  return true;
}

/**
 * Reads at least `n` bytes (or everything, if shorter) and leaves the stream paused. Rejects
 * with the stream's own error (or one saying it was cut off).
 */
export function readHead(source: Readable, n: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    // A stream that failed before anyone listened would never say so again.
    if (source.errored || (source.destroyed && !source.readableEnded)) {
      return reject(source.errored ?? new Error('the request was cut off'));
    }
    if (source.readableEnded) return resolve({ head: Buffer.alloc(0), ended: true });
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (ended: boolean) => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      resolve({ head: Buffer.concat(chunks, length), ended });
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      length += c.length;
      if (length >= n) {
        source.pause();
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onError = (e: Error) => {
      source.off('data', onData);
      source.off('end', onEnd);
      reject(e);
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
  });
}

/**
 * Writes `head` (read by readHead) into `into`, then the rest of `source`. pipe() does not pass
 * errors on: a source that fails (a client that goes away) destroys `into` with `failure(e)`
 * (finished() also reports a failure that came while the head was being read).
 */
export function feed(source: Readable, head: Buffer, ended: boolean, into: Writable, failure: (e: Error) => Error): void {
  into.write(head);
  if (ended) {
    into.end();
    return;
  }
  const stop = finished(source, (e) => {
    stop();
    if (e) into.destroy(failure(e));
  });
  source.pipe(into);
}

/**
 * Counts the bytes the consumer takes from `stream` and tells `settle` once it closes, however
 * it ends. Paused first, so the counting listener only watches: the consumer's pipe starts the
 * flow.
 */
export function metered(stream: Readable, settle: (sent: number) => void): Readable {
  let sent = 0;
  stream.pause();
  stream.on('data', (chunk: Buffer) => {
    sent += chunk.length;
  });
  stream.once('close', () => settle(sent));
  return stream;
}

/**
 * Holds back the last chunk until `record` has committed (a stored image's decryptor does the
 * same with its last segment). `room` bytes of buffer, so the store's socket is read in large
 * steps while the client's drains (Node's 16 KiB default slows the relay down).
 */
export function lastChunkAfter(record: () => Promise<void>, room: number): Transform {
  let held: Buffer | null = null;
  return new Transform({
    highWaterMark: room,
    transform(chunk: Buffer, _enc, done) {
      const previous = held;
      held = chunk;
      done(null, previous ?? undefined);
    },
    flush(done) {
      record().then(
        () => done(null, held ?? undefined),
        (err: Error) => done(err),
      );
    },
  });
}

/** Reads a stream to its end, keeping nothing; rejects when it fails. */
export async function discard(stream: Readable): Promise<void> {
  for await (const _chunk of stream) {
    // nothing is kept
  }
}

/** Reads and discards what is left of an upload so the request can finish (never destroy it). */
export function drain(source: Readable | undefined): void {
  if (!source || source.readableEnded) return;
  source.removeAllListeners('data');
  source.on('error', () => undefined);
  source.unpipe();
  source.resume();
}
