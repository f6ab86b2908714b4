import type { ErrorRequestHandler } from 'express';
import { AppError, ErrorCode, httpStatusOf } from '../errors';
import type { Logger } from '../logger';

/**
 * Errors on the plain HTTP routes (multipart parsing, downloads, body parsing) answer in the same
 * GraphQL error shape with the same stable codes as the API, never as an HTML page.
 */
export function errorHandler(log: Logger, exposeDetails: boolean): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    let code: ErrorCode;
    let message: string;
    if (err instanceof AppError) {
      code = err.code;
      message = err.message;
    } else {
      const status = Number((err as { status?: number }).status) || 500;
      code =
        status === 413
          ? 'PAYLOAD_TOO_LARGE'
          : status === 415
            ? 'UNSUPPORTED_MEDIA_TYPE'
            : status < 500
              ? 'BAD_USER_INPUT'
              : 'INTERNAL_SERVER_ERROR';
      message = code === 'INTERNAL_SERVER_ERROR' && !exposeDetails ? 'Internal server error' : String(err?.message ?? err);
      if (code === 'INTERNAL_SERVER_ERROR') log.error({ err }, 'request failed');
    }
    if (res.headersSent) return res.destroy();
    const extensions = err instanceof AppError ? err.extensions : { code };
    res.status(httpStatusOf[code]).json({ errors: [{ message, extensions }] });
  };
}
