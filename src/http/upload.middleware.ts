import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { User } from '../entities/user.entity';
import { AppError, PayloadTooLargeError, UnauthenticatedError } from '../errors';
import { MultipartRequest } from './multipart.request';

export type { StreamedFile } from './multipart.request';

/**
 * Room for the multipart envelope around an image at the limit: boundaries, part headers,
 * operations and map. A real client's envelope is a few hundred bytes.
 */
export const ENVELOPE_BYTES = 64 * 1024;

/**
 * How long the rest of a body larger than any request may carry is still read, and thrown away,
 * after the answer: closing at once would reset the connection, and the client could lose the
 * answer it has not read yet.
 */
const LINGER_MS = 2_000;

export interface UploadOptions {
  maxImageBytes: number;
  /** The token check: a multipart request without a valid token is refused before its body is read. */
  authenticate(authorization: string | undefined): Promise<User | null>;
}

/** The viewer the upload middleware authenticated, so that the Apollo context does not look it up again. */
export function uploadViewer(res: Response): User | undefined {
  return res.locals.uploadViewer as User | undefined;
}

/**
 * GraphQL multipart requests (uploads) are parsed here, while they arrive, before Apollo sees
 * them: resolvers get the live file stream, with no temporary file in between. Before a byte of
 * the body is read, a request larger than an image at the limit plus its envelope is refused
 * (PAYLOAD_TOO_LARGE, 413), and so is one without a valid token (UNAUTHENTICATED as a GraphQL
 * error with HTTP 200, the answer the same request got when the resolver refused it). Every
 * refusal is answered; the rest of the body is then read and thrown away, so the connection is
 * not reset under the answer, up to what one request may carry.
 */
export function uploadMiddleware(options: UploadOptions): RequestHandler {
  const bodyBytes = options.maxImageBytes + ENVELOPE_BYTES;
  return (req, res, next) => {
    if (!req.is('multipart/form-data')) return next();
    handleUpload(req, res, next, options, bodyBytes).catch((e) => (res.headersSent ? req.socket.destroy() : next(e)));
  };
}

async function handleUpload(req: Request, res: Response, next: NextFunction, options: UploadOptions, bodyBytes: number): Promise<void> {
  const body = new BodyDrain(req, res, bodyBytes);
  // Node has already refused a Content-Length that is not a number.
  if (Number(req.headers['content-length'] ?? 0) > bodyBytes) {
    body.drain();
    return next(new PayloadTooLargeError(options.maxImageBytes));
  }
  let viewer: User | null;
  try {
    viewer = await options.authenticate(req.headers.authorization);
  } catch (e) {
    body.drain();
    return next(e);
  }
  // The client left during the look-up: nobody to answer.
  if (req.destroyed) return;
  if (!viewer) {
    body.drain();
    const error = new UnauthenticatedError();
    res.status(200).json({ errors: [{ message: error.message, extensions: error.extensions }], data: null });
    return;
  }
  res.locals.uploadViewer = viewer;

  const multipart = new MultipartRequest(req, { fileBytes: options.maxImageBytes + 1, bodyBytes, imageBytes: options.maxImageBytes }, () =>
    body.drain(multipart.bytesRead),
  );
  body.holdAnswers(() => multipart.release());
  multipart.start();
  let operations;
  try {
    operations = await multipart.operations;
  } catch (e) {
    return next(e as AppError);
  }
  req.body = operations;
  next();
}

/**
 * What is left of a request's body once the server has no use for it, and when its answer may
 * go. Answers wait until the body has been read to its end (answering while the client still
 * sends would reset the connection before the client reads the answer); a body larger than any
 * request may carry is answered at once and its connection closed LINGER_MS later.
 */
class BodyDrain {
  private overflowing = false;
  private draining = false;
  private held: (() => void) | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: Response,
    private readonly maxBytes: number,
  ) {}

  /**
   * Holds every answer until the request has been read, and calls `beforeAnswer` first (it lets
   * the rest of the body flow).
   */
  holdAnswers(beforeAnswer: () => void): void {
    const { req, res } = this;
    const send = res.send.bind(res);
    res.send = ((payload?: unknown) => {
      beforeAnswer();
      if (req.readableEnded || req.destroyed || this.overflowing) return send(payload);
      if (!this.held) {
        this.held = () => send(payload);
        req.once('end', () => this.release());
      }
      return res;
    }) as Response['send'];
  }

  /** Reads the rest of the body into nothing; `alreadyRead` bytes of it were read before. */
  drain(alreadyRead = 0): void {
    if (this.draining) return;
    this.draining = true;
    const { req } = this;
    let read = alreadyRead;
    if (Number(req.headers['content-length'] ?? 0) > this.maxBytes) this.overflow();
    req.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > this.maxBytes) this.overflow();
    });
    // Now, so that Node does not dump the body itself (dropping the count above) once the
    // answer is out; and again next turn, as a parser just unpiped may pause it in this tick.
    req.resume();
    setImmediate(() => req.resume());
  }

  private overflow(): void {
    if (this.overflowing) return;
    this.overflowing = true;
    this.release();
    const close = () => setTimeout(() => this.req.socket.destroy(), LINGER_MS).unref();
    if (this.res.writableFinished) close();
    else this.res.once('finish', close);
  }

  private release(): void {
    const send = this.held;
    this.held = undefined;
    send?.();
  }
}
