import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import { Upload } from 'graphql-upload-ts';
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

export interface MultipartLimits {
  /** busboy stops passing a file's bytes on past this many (the service tells "too large" by the extra byte). */
  fileBytes: number;
  /** The whole body, envelope included: past it the request fails, whatever its framing. */
  bodyBytes: number;
  /** The image limit, named in the error a too large body gets. */
  imageBytes: number;
}

/**
 * One GraphQL multipart request (operations, map, one file) parsed as it arrives. Every stream
 * made here has its errors handled where it is made, so that a malformed or cut-off request fails
 * that request and nothing else. Resolvers read the file through a stream of ours that ends only
 * once the whole request has been parsed without fault: an upload is complete only if its
 * request is, so a send cut off or malformed after its file part keeps nothing.
 */
export class MultipartRequest {
  /** The operations with each mapped file's Upload in place; rejects when the request is refused before them. */
  readonly operations: Promise<Record<string, unknown> | unknown[]>;
  /** Bytes of the body read so far. */
  bytesRead = 0;
  private resolveOperations!: (o: Record<string, unknown> | unknown[]) => void;
  private rejectOperations!: (e: AppError) => void;
  private parser: busboy.Busboy | undefined;
  private parsed: Record<string, unknown> | unknown[] | undefined;
  private uploads: Map<string, Upload> | undefined;
  private readonly files = new Set<PassThrough>();
  private exitError: AppError | undefined;
  private released = false;

  constructor(
    private readonly request: IncomingMessage,
    private readonly limits: MultipartLimits,
    /** Told once when the request fails: what is left of the body is the caller's to drain. */
    private readonly onFail: (error: AppError) => void,
  ) {
    this.operations = new Promise((resolve, reject) => {
      this.resolveOperations = resolve;
      this.rejectOperations = reject;
    });
    // Read by the caller only when the request is refused before it is resolved.
    this.operations.catch(() => undefined);
  }

  /** Starts reading the body. */
  start(): void {
    const request = this.request;
    try {
      this.parser = busboy({
        headers: request.headers,
        defParamCharset: 'utf8',
        limits: { fieldSize: MAX_FIELD_BYTES, fields: 2, fileSize: this.limits.fileBytes, files: 1 },
      });
    } catch (e) {
      // No boundary, or a Content-Type busboy cannot read: nothing of the body is wanted.
      return this.exit(new BadInputError(`Malformed multipart request: ${(e as Error).message} (${SPEC})`));
    }
    const parser = this.parser;
    parser.on('field', (name, value, info) => this.onField(name, value, info.valueTruncated));
    parser.on('file', (name, stream, info) => this.onFile(name, stream, info));
    parser.once('filesLimit', () => this.exit(new BadInputError('Only one file may be uploaded per request', 'image')));
    parser.once('fieldsLimit', () => this.exit(new BadInputError(`Only 'operations' and 'map' fields are allowed (${SPEC})`)));
    parser.once('finish', () => this.onFinish());
    // `on`, not `once`: busboy may report more than one fault of a body (a bad part header, then its end).
    parser.on('error', (e: Error) =>
      this.exit(e instanceof AppError ? e : new BadInputError(`Malformed multipart request: ${e.message} (${SPEC})`)),
    );
    request.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length;
      if (this.bytesRead > this.limits.bodyBytes) this.exit(new PayloadTooLargeError(this.limits.imageBytes));
    });
    request.once('close', () => {
      if (!request.readableEnded) this.exit(new BadInputError('The request was cut off during the upload', 'image'));
    });
    request.pipe(parser);
  }

  /**
   * The answer is ready: what no resolver read is drained, so that the request can end (never
   * destroyed: busboy would stall, and the answer that waits for the request's end with it).
   */
  release(): void {
    this.released = true;
    for (const f of this.files) drain(f);
  }

  private onField(name: string, value: string, truncated: boolean): void {
    if (this.exitError) return;
    if (truncated)
      return this.exit(new PayloadTooLargeError(MAX_FIELD_BYTES, `The '${name === 'map' ? 'map' : 'operations'}' multipart field`));
    if (name === 'operations') {
      if (this.parsed) return this.exit(new BadInputError(`Repeated multipart field 'operations' (${SPEC})`));
      let operations: unknown;
      try {
        operations = JSON.parse(value);
      } catch {
        return this.exit(new BadInputError(`Invalid JSON in the 'operations' multipart field (${SPEC})`));
      }
      if (typeof operations !== 'object' || operations === null) {
        return this.exit(new BadInputError(`Invalid 'operations' multipart field (${SPEC})`));
      }
      this.parsed = operations as Record<string, unknown> | unknown[];
    } else if (name === 'map') {
      if (!this.parsed) return this.exit(new BadInputError(`Disordered multipart fields: 'map' must follow 'operations' (${SPEC})`));
      const uploads = this.mapUploads(value);
      if (uploads instanceof AppError) return this.exit(uploads);
      this.uploads = uploads;
      this.resolveOperations(this.parsed);
    } else {
      this.exit(new BadInputError(`Unexpected multipart field '${name.slice(0, 64)}': only 'operations' and 'map' are allowed (${SPEC})`));
    }
  }

  /** Checks the map (one file at most, used at one place) and puts each file's Upload where it names. */
  private mapUploads(value: string): Map<string, Upload> | AppError {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return new BadInputError(`Invalid JSON in the 'map' multipart field (${SPEC})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return new BadInputError(`Invalid 'map' multipart field (${SPEC})`);
    const entries = Object.entries(parsed as Record<string, unknown>);
    if (entries.length > 1) return new BadInputError('Only one file may be uploaded per request', 'image');
    const uploads = new Map<string, Upload>();
    for (const [field, paths] of entries) {
      if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string')) return new BadInputError(`Invalid 'map' entry (${SPEC})`);
      // One file, one reader: a stream read by two sends would leave the second waiting forever.
      if (paths.length !== 1) return new BadInputError('Each uploaded file must be mapped to exactly one variable', 'image');
      const upload = new Upload();
      if (!placeAt(this.parsed, paths[0] as string, upload)) return new BadInputError(`Invalid object path in 'map' (${SPEC})`);
      uploads.set(field, upload);
    }
    return uploads;
  }

  private onFile(field: string, stream: Readable, info: { filename: string; encoding: string; mimeType: string }): void {
    // Before anything else: busboy destroys this stream with an error when the body turns out
    // malformed or cut off, and an 'error' nobody listens to stops the process.
    stream.on('error', () => undefined);
    const upload = this.uploads?.get(field);
    if (!this.uploads && !this.exitError) this.exit(new BadInputError(`Disordered multipart fields: files must follow 'map' (${SPEC})`));
    if (!upload || upload.file || this.exitError || this.released) {
      stream.resume();
      return;
    }
    const file = new PassThrough();
    file.on('error', () => undefined);
    this.files.add(file);
    stream.on('error', (e) => file.destroy(this.exitError ?? asUploadError(e)));
    stream.pipe(file, { end: false });
    // A reader that destroys our stream must not leave busboy's waiting for one.
    file.once('close', () => {
      stream.unpipe(file);
      stream.resume();
    });
    const streamed: StreamedFile = {
      fieldName: field,
      filename: info.filename,
      mimetype: info.mimeType,
      encoding: info.encoding,
      stream: file,
      createReadStream: () => file,
    };
    upload.resolve(streamed as never);
  }

  private onFinish(): void {
    const request = this.request;
    request.unpipe(this.parser);
    request.resume();
    if (!this.parsed) return this.exit(new BadInputError(`Missing multipart field 'operations' (${SPEC})`));
    if (!this.uploads) return this.exit(new BadInputError(`Missing multipart field 'map' (${SPEC})`));
    for (const upload of this.uploads.values()) if (!upload.file) upload.reject(new BadInputError('File missing in the request', 'image'));
    // The whole body arrived well-formed: only now do the files end.
    for (const f of this.files) f.end();
  }

  /** Fails the request: every upload still waiting and every file still open fail with it. */
  private exit(error: AppError): void {
    if (this.exitError) return;
    this.exitError = error;
    if (this.uploads) for (const upload of this.uploads.values()) if (!upload.file) upload.reject(error);
    for (const f of this.files) if (!f.writableEnded) f.destroy(error);
    if (this.parser) {
      this.request.unpipe(this.parser);
      // busboy fails the file stream it is writing (handled in onFile) and reports no more.
      this.parser.destroy();
    }
    this.rejectOperations(error);
    this.onFail(error);
  }
}

/** Reads and discards what is left of a stream (never destroys it). */
function drain(stream: Readable): void {
  if (stream.readableEnded || stream.destroyed) return;
  stream.removeAllListeners('data');
  stream.unpipe();
  stream.resume();
}

function asUploadError(e: unknown): AppError {
  return e instanceof AppError
    ? e
    : new BadInputError(`The upload could not be read: ${(e as Error)?.message ?? 'unknown error'}`, 'image');
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
