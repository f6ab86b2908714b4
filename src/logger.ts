import pino, { DestinationStream, Logger } from 'pino';

export type { Logger };

/**
 * Keys whose values never belong in a log: the secrets a client holds, phone numbers and their
 * hashes (a hash is reversed by brute force in seconds), codes. They are not logged on purpose
 * (logs name users by uid); these paths catch them should one slip into a logged object.
 */
const REDACTED_KEYS = [
  'ukey',
  'phoneNum',
  'phoneNumbers',
  'phoneHash',
  'phone_hash',
  'sender_phone',
  'verificationCode',
  'authorization',
  'cookie',
  'token',
  'password',
  'accessKeySecret',
];

/**
 * Structured logs (pino). Errors are logged by type, message, code and stack only: database
 * errors also carry the statement's parameters and the text with values filled in, which may
 * hold a phone number or a hash.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'glimpse' },
    redact: {
      paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`), 'req.headers', 'res.headers'],
      censor: '[redacted]',
    },
    serializers: { err: safeError },
  };
  return destination ? pino(options, destination) : pino(options);
}

export function safeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { code?: unknown; errno?: unknown; providerCode?: unknown; cause?: unknown };
  return {
    type: e.name,
    message: e.message,
    ...(typeof e.code === 'string' || typeof e.code === 'number' ? { code: e.code } : {}),
    ...(typeof e.errno === 'number' ? { errno: e.errno } : {}),
    stack: e.stack,
  };
}
