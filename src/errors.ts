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
  | 'GONE'
  | 'RANGE_NOT_SATISFIABLE'
  | 'BAD_USER_INPUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'REGISTRATION_LOCKED'
  | 'INTERNAL_SERVER_ERROR';

/** The HTTP status used when an error answers a plain HTTP route (uploads, downloads). */
export const httpStatusOf: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  GONE: 410,
  RANGE_NOT_SATISFIABLE: 416,
  BAD_USER_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  REGISTRATION_LOCKED: 423,
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

/** A download URL that has served its one complete download. */
export class GoneError extends AppError {
  constructor(message: string) {
    super('GONE', message);
  }
}

export class RangeNotSatisfiableError extends AppError {
  constructor(readonly size: number) {
    super('RANGE_NOT_SATISFIABLE', `The requested range is not within the image's ${size} bytes`);
  }
}

export class BadInputError extends AppError {
  constructor(message: string, field?: string) {
    super('BAD_USER_INPUT', message, field ? { field } : {});
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(maxBytes: number, what = 'The image') {
    super('PAYLOAD_TOO_LARGE', `${what} is larger than the limit of ${maxBytes} bytes`, { maxBytes });
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message = 'The file is not a supported image (JPEG, PNG, GIF, WebP, HEIC/HEIF, AVIF)') {
    super('UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** Too many calls: `extensions.retryAfter` says in how many seconds the next one can succeed. */
export class RateLimitedError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, message?: string) {
    const after = Math.max(1, Math.ceil(retryAfterSeconds));
    super('RATE_LIMITED', message ?? `Too many requests; try again in ${after} s`, { retryAfter: after });
    this.retryAfterSeconds = after;
  }
}

/**
 * The number's account has a registration lock and the register call did not carry its PIN
 * (`reason` PIN_MISSING) or carried another one (PIN_WRONG). The verification code was not used
 * up: the same call with the right PIN still works while the code lives.
 */
export class RegistrationLockedError extends AppError {
  constructor(readonly reason: 'PIN_MISSING' | 'PIN_WRONG') {
    super(
      'REGISTRATION_LOCKED',
      reason === 'PIN_MISSING'
        ? 'This account has a registration lock: send its PIN as registrationLockPin'
        : 'The registration lock PIN is wrong',
      { field: 'registrationLockPin', reason },
    );
  }
}

/**
 * Why a verification code was refused; `extensions.reason` is stable, the message says it in
 * words. A wrong code is WRONG whatever the number's state (no code asked for included); the
 * others are told only to the holder of the right code.
 */
export type VerificationFailure = 'WRONG' | 'USED' | 'EXPIRED' | 'TOO_MANY_TRIES';

const VERIFICATION_MESSAGES: Record<VerificationFailure, string> = {
  WRONG: 'The verification code is wrong',
  USED: 'The verification code has already been used; request a new one',
  EXPIRED: 'The verification code has expired; request a new one',
  TOO_MANY_TRIES: 'Too many wrong tries: the verification code no longer works; request a new one',
};

export class VerificationCodeError extends AppError {
  constructor(
    readonly reason: VerificationFailure,
    extra: Record<string, unknown> = {},
  ) {
    super('BAD_USER_INPUT', VERIFICATION_MESSAGES[reason], { field: 'verificationCode', reason, ...extra });
  }
}

/** The SMS provider did not take the message; the code was not sent and does not work. */
export class SmsUnavailableError extends AppError {
  constructor() {
    super('INTERNAL_SERVER_ERROR', 'The verification code could not be sent; please try again later', { reason: 'SMS_FAILED' });
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

/**
 * Start-up could not reach a part the configuration points at. Never seen by clients: the
 * process prints it and exits, and its message names the variable to fix.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}
