import pino, { Logger } from 'pino';

export type { Logger };

/** Structured logs; secrets and phone numbers never belong in them (redacted if they slip in). */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'glimpse' },
    redact: {
      paths: ['ukey', '*.ukey', 'phoneNum', '*.phoneNum', 'authorization', '*.authorization', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
