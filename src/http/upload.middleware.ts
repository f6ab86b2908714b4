import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { RequestHandler, Response } from 'express';
import { graphqlUploadExpress, Upload } from 'graphql-upload-ts';
import { AppError, BadInputError, PayloadTooLargeError } from '../errors';

const SPEC = 'see the GraphQL multipart request specification';
/** `operations` and `map` are small JSON; a megabyte is far more than any real query needs. */
const MAX_FIELD_BYTES = 1_000_000;

/** A file part handed to resolvers while its bytes still arrive: no temporary file in between. */
export interface StreamedFile {
  fieldName: string;
  filename: string;
  mimetype: string;
  encoding: string;
  stream: Readable;
  createReadStream(): Readable;
}

/**
 * graphql-upload-ts's Express middleware with a processRequest that hands resolvers the live
 * busboy stream instead of spooling it through a temporary file (a cost per byte for nothing).
 * One file per request. busboy stops counting at maxFileBytes + 1, so the service can tell
 * "too large" from "exactly at the limit".
 */
export function uploadMiddleware(maxFileBytes: number): RequestHandler {
  return graphqlUploadExpress({
    processRequest: ((req: IncomingMessage, res: Response) => processStreamingRequest(req, res, maxFileBytes + 1)) as never,
    // Holds the response until the request is fully read: answering early while the client is
    // still sending resets the connection.
    overrideSendResponse: true,
  });
}

export function processStreamingRequest(request: IncomingMessage, response: Response, maxFileSize: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let operations: Record<string, unknown> | unknown[] | undefined;
    let map: Map<string, Upload> | undefined;
    let exitError: Error | undefined;
    let responding = false;
    const files = new Set<Readable>();

    const parser = busboy({
      headers: request.headers,
      defParamCharset: 'utf8',
      limits: { fieldSize: MAX_FIELD_BYTES, fields: 2, fileSize: maxFileSize, files: 1 },
    });

    const exit = (error: Error, fromParser = false) => {
      if (exitError) return;
      exitError = error;
      if (map) for (const upload of map.values()) if (!upload.file) upload.reject(error);
      // The request is over: fail whatever is still reading a file so it stops waiting.
      for (const f of files) if (!f.readableEnded) f.destroy(error);
      if (fromParser) parser.destroy();
      else parser.destroy(error);
      request.unpipe(parser);
      setImmediate(() => request.resume());
      reject(error);
    };

    // Whatever the resolver did not read must still be drained, or the request never ends and
    // the held response is never sent.
    const send = response.send.bind(response);
    response.send = ((body?: unknown) => {
      responding = true;
      for (const f of files) if (!f.readableEnded) f.resume();
      return send(body);
    }) as Response['send'];

    parser.on('field', (name, value, { valueTruncated }) => {
      if (valueTruncated) return exit(new PayloadTooLargeError(MAX_FIELD_BYTES));
      if (name === 'operations') {
        try {
          operations = JSON.parse(value);
        } catch {
          return exit(new BadInputError(`Invalid JSON in the 'operations' multipart field (${SPEC})`));
        }
        if (typeof operations !== 'object' || operations === null) {
          return exit(new BadInputError(`Invalid 'operations' multipart field (${SPEC})`));
        }
      } else if (name === 'map') {
        if (!operations) return exit(new BadInputError(`Disordered multipart fields: 'map' must follow 'operations' (${SPEC})`));
        let parsed: unknown;
        try {
          parsed = JSON.parse(value);
        } catch {
          return exit(new BadInputError(`Invalid JSON in the 'map' multipart field (${SPEC})`));
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return exit(new BadInputError(`Invalid 'map' multipart field (${SPEC})`));
        }
        const entries = Object.entries(parsed as Record<string, unknown>);
        if (entries.length > 1) return exit(new BadInputError('Only one file may be uploaded per request', 'image'));
        map = new Map();
        for (const [field, paths] of entries) {
          if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string')) {
            return exit(new BadInputError(`Invalid 'map' entry '${field}' (${SPEC})`));
          }
          const upload = new Upload();
          map.set(field, upload);
          for (const p of paths as string[]) {
            if (!placeAt(operations, p, upload)) return exit(new BadInputError(`Invalid object path '${p}' in 'map' (${SPEC})`));
          }
        }
        resolve(operations);
      }
    });

    parser.on('file', (field, stream, { filename, encoding, mimeType }) => {
      const upload = map?.get(field);
      if (!map) {
        stream.resume();
        return exit(new BadInputError(`Disordered multipart fields: files must follow 'map' (${SPEC})`));
      }
      if (!upload || responding) {
        stream.resume();
        return;
      }
      files.add(stream);
      const file: StreamedFile = {
        fieldName: field,
        filename,
        mimetype: mimeType,
        encoding,
        stream,
        createReadStream: () => stream,
      };
      upload.resolve(file as never);
    });

    parser.once('filesLimit', () => exit(new BadInputError('Only one file may be uploaded per request', 'image')));
    parser.once('fieldsLimit', () => exit(new BadInputError(`Only 'operations' and 'map' fields are allowed (${SPEC})`)));
    parser.once('finish', () => {
      request.unpipe(parser);
      request.resume();
      if (!operations) return exit(new BadInputError(`Missing multipart field 'operations' (${SPEC})`));
      if (!map) return exit(new BadInputError(`Missing multipart field 'map' (${SPEC})`));
      for (const upload of map.values()) if (!upload.file) upload.reject(new BadInputError('File missing in the request', 'image'));
    });
    parser.on('error', (e: Error) => exit(e instanceof AppError ? e : new BadInputError(`Malformed multipart request: ${e.message}`), true));
    request.once('close', () => {
      if (!request.readableEnded) exit(new BadInputError('The request was cut off during the upload', 'image'));
    });
    request.pipe(parser);
  });
}

/** Puts `value` at a dotted path such as `variables.image` or `0.variables.files.1`, where null stands. */
function placeAt(root: unknown, path: string, value: unknown): boolean {
  const keys = path.split('.');
  let node = root as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return false;
    const next = node?.[key];
    if (typeof next !== 'object' || next === null) return false;
    node = next as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (last === '__proto__' || !Object.prototype.hasOwnProperty.call(node, last) || node[last] !== null) return false;
  node[last] = value;
  return true;
}
