import { GraphQLError } from 'graphql';

/**
 * Every error a client can see, each with a stable `extensions.code`. Anything thrown that is
 * not an AppError is a bug or an outage and reaches clients as INTERNAL_SERVER_ERROR, with its
 * details only in development.
 */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'INTERNAL_SERVER_ERROR';

/** The HTTP status used when an error answers a plain HTTP route (uploads, downloads). */
export const httpStatusOf: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
};

export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { code, ...extra } });
    this.name = 'AppError';
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = 'A valid Authorization: Bearer <phoneHash>.<ukey> header is required') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'Not allowed') {
    super('FORBIDDEN', message);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}

export class BadInputError extends AppError {
  constructor(message: string, field?: string) {
    super('BAD_USER_INPUT', message, field ? { field } : {});
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(maxBytes: number) {
    super('PAYLOAD_TOO_LARGE', `The image is larger than the limit of ${maxBytes} bytes`, { maxBytes });
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message = 'The file is not a supported image (JPEG, PNG, GIF, WebP, HEIC/HEIF, AVIF)') {
    super('UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** Too many calls: `extensions.retryAfter` says in how many seconds the next one can succeed. */
export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number, message = 'Too many requests; try again later') {
    super('RATE_LIMITED', message, { retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)) });
  }
}

/** The blob store failed: the client's image was not kept, and it may try again. */
export class StorageError extends AppError {
  constructor(readonly causeDetail?: unknown) {
    super('INTERNAL_SERVER_ERROR', 'The image could not be stored; please try again');
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
