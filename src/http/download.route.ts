import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import { RangeNotSatisfiableError } from '../errors';
import type { Logger } from '../logger';
import type { Download, ImageDownloadService, RequestedRange } from '../services/image-download.service';
import { Metrics, noMetrics } from '../services/metrics';

/**
 * GET /download/:token — the bytes behind a downloadUrl, for whoever holds the URL while it
 * lasts. One byte range (`Range: bytes=a-b`) may be asked for, so an interrupted download
 * resumes; the URL is used up once a response has delivered the image's last byte.
 */
export function downloadRoute(downloads: ImageDownloadService, log: Logger, metrics: Metrics = noMetrics): RequestHandler {
  return async (req, res, next) => {
    let download;
    try {
      // Without a Range header the whole image is asked for, and the size is not needed first.
      const range = req.headers.range ? (size: number) => rangeOf(req, size) : undefined;
      download = await downloads.openDownload(String(req.params.token), range);
    } catch (e) {
      if (e instanceof RangeNotSatisfiableError) res.setHeader('Content-Range', `bytes */${e.size}`);
      return next(e);
    }
    describe(res, download);
    try {
      await pipeline(download.stream, res);
      metrics.imageBytesServed(download.end - download.start + 1);
    } catch (err) {
      // Headers are gone already: all that is left is to cut the connection, so the client
      // sees a short body rather than a wrong one.
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') log.warn({ err }, 'download interrupted');
      res.destroy();
    }
  };
}

/**
 * HEAD /download/:token — the headers a GET would answer with, or its refusal. Nothing is read
 * from the store or counted: a client may look before it downloads, and the URL stays live.
 * (Without this, express answers HEAD with the GET handler, which serves and uses up the URL.)
 */
export function downloadHeadRoute(downloads: ImageDownloadService): RequestHandler {
  return async (req, res, next) => {
    try {
      const range = req.headers.range ? (size: number) => rangeOf(req, size) : undefined;
      describe(res, await downloads.describeDownload(String(req.params.token), range));
      res.end();
    } catch (e) {
      if (e instanceof RangeNotSatisfiableError) res.setHeader('Content-Range', `bytes */${e.size}`);
      next(e);
    }
  };
}

/** Status and headers of an answer carrying bytes `start`–`end` of the image. */
function describe(res: Response, d: Omit<Download, 'stream'>): void {
  const partial = d.start !== 0 || d.end !== d.size - 1;
  res.status(partial ? 206 : 200);
  res.setHeader('Content-Type', d.filetype);
  res.setHeader('Content-Length', String(d.end - d.start + 1));
  if (partial) res.setHeader('Content-Range', `bytes ${d.start}-${d.end}/${d.size}`);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'private, no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

/** One satisfiable range of `Range: bytes=…`, or null for the whole image (no header, another unit, or several ranges). */
function rangeOf(req: Request, size: number): RequestedRange | null {
  if (!req.headers.range) return null;
  const ranges = req.range(size, { combine: true });
  if (ranges === -1) throw new RangeNotSatisfiableError(size);
  // A unit other than bytes (`Range: items=0-1`) is not ours to serve: the whole image it is.
  if (ranges === undefined || ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return null;
  return { start: ranges[0].start, end: ranges[0].end };
}
