import { pipeline } from 'node:stream/promises';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger';
import type { ImageService } from '../services/image.service';

/** GET /download/:token — the bytes behind a downloadUrl, for whoever holds the URL while it lasts. */
export function downloadRoute(images: ImageService, log: Logger): RequestHandler {
  return async (req, res, next) => {
    let download;
    try {
      download = await images.openDownload(String(req.params.token));
    } catch (e) {
      return next(e);
    }
    res.status(200);
    res.setHeader('Content-Type', download.filetype);
    res.setHeader('Content-Length', String(download.size));
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    try {
      await pipeline(download.stream, res);
    } catch (err) {
      // Headers are gone already: all that is left is to cut the connection, so the client
      // sees a short body rather than a wrong one.
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') log.warn({ err }, 'download interrupted');
      res.destroy();
    }
  };
}
