import http from 'node:http';

export interface GqlResult<T = Record<string, any>> {
  status: number;
  data: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown }; path?: string[] }[];
}

/** A GraphQL client over real HTTP, as the mobile app talks to the server. */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async gql<T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown> = {},
    token?: string,
    headers: Record<string, string> = {},
  ): Promise<GqlResult<T>> {
    const res = await fetch(`${this.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GqlResult<T>;
    return { ...body, status: res.status };
  }

  /** A GraphQL multipart request (one file), sent as a prebuilt body like a phone would. */
  async upload<T = Record<string, any>>(opts: UploadOptions): Promise<GqlResult<T>> {
    const { body, contentType } = multipartBody(opts);
    const res = await fetch(`${this.baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        'apollo-require-preflight': 'true',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.headers ?? {}),
      },
      body,
    });
    const text = await res.text();
    try {
      return { ...(JSON.parse(text) as GqlResult<T>), status: res.status };
    } catch {
      return { status: res.status, data: null, errors: [{ message: text }] };
    }
  }

  /** sendImage with the image bytes; `size` is declared unless set to null. */
  sendImage(token: string, receiverUid: number, bytes: Buffer, size: number | null = bytes.length) {
    return this.upload<{ sendImage: SentMessage }>({
      token,
      query: `mutation($receiverUid: Int!, $image: Upload!, $size: Int) {
        sendImage(receiverUid: $receiverUid, image: $image, size: $size) { ${MESSAGE_FIELDS} } }`,
      variables: { receiverUid, size },
      file: bytes,
    });
  }
}

export const MESSAGE_FIELDS =
  'id messageKey receiverUid sendTime exist filetype size downloadUrl sender { uid nickname regionNum phoneHash }';

export interface SentMessage {
  id: number;
  messageKey: string;
  receiverUid: number;
  sendTime: string;
  exist: boolean;
  filetype: string;
  size: number;
  downloadUrl: string | null;
  sender: { uid: number; nickname: string; regionNum: string; phoneHash: string };
}

export interface UploadOptions {
  token?: string;
  query: string;
  variables?: Record<string, unknown>;
  file: Buffer;
  /** The variable the file goes to. */
  fileVariable?: string;
  filename?: string;
  fileContentType?: string;
  headers?: Record<string, string>;
}

export function multipartBody(opts: UploadOptions): { body: Buffer; contentType: string } {
  const boundary = `----glimpse${Math.random().toString(16).slice(2)}`;
  const variable = opts.fileVariable ?? 'image';
  const operations = JSON.stringify({ query: opts.query, variables: { ...(opts.variables ?? {}), [variable]: null } });
  const map = JSON.stringify({ 0: [`variables.${variable}`] });
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n${map}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${opts.filename ?? 'image.jpg'}"\r\n` +
    `Content-Type: ${opts.fileContentType ?? 'image/jpeg'}\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head), opts.file, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** A plain GET, as an image viewer would fetch a downloadUrl. */
export function httpGet(
  url: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export interface SteppedUpload {
  /** Sends the next `n` bytes of the file (all that is left when omitted). */
  send(n?: number): Promise<void>;
  /** Sends the rest of the file and the closing boundary. */
  finish(): Promise<void>;
  /** Cuts the connection, as a phone losing its network mid-upload. */
  abort(): void;
  /** The server's answer (rejects when the connection was cut). */
  response: Promise<GqlResult>;
}

/** A multipart upload sent in steps the test controls, over one HTTP request. */
export function steppedUpload(baseUrl: string, opts: UploadOptions): SteppedUpload {
  const { body, contentType } = multipartBody(opts);
  const fileStart = body.indexOf(opts.file.subarray(0, Math.min(64, opts.file.length)));
  let sent = 0;
  const req = http.request(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'content-length': String(body.length),
      'apollo-require-preflight': 'true',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
  });
  const response = new Promise<GqlResult>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ...(JSON.parse(Buffer.concat(chunks).toString()) as GqlResult), status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  response.catch(() => undefined);
  const write = (until: number) =>
    new Promise<void>((resolve, reject) => {
      const chunk = body.subarray(sent, until);
      sent = until;
      if (req.destroyed) return reject(new Error('the connection is closed'));
      // A connection the server drops mid-write may never call back: its close settles the write.
      const closed = () => reject(new Error('the connection closed during the write'));
      req.once('close', closed);
      req.write(chunk, (e) => {
        req.off('close', closed);
        if (e) reject(e);
        else resolve();
      });
    });
  // The multipart head goes at once, so the server starts the send before the file is complete.
  void write(fileStart);
  return {
    send: (n) => write(Math.min(fileStart + opts.file.length, n === undefined ? Infinity : sent + n)),
    finish: async () => {
      await write(body.length);
      if (!req.destroyed) req.end();
    },
    abort: () => req.destroy(),
    response,
  };
}

/** sendGroupImage with the image bytes; `size` is declared unless set to null. */
export function sendGroupImage(api: ApiClient, token: string, groupId: number, bytes: Buffer, size: number | null = bytes.length) {
  return api.upload<{ sendGroupImage: SentMessage[] }>({
    token,
    query: `mutation($groupId: Int!, $image: Upload!, $size: Int) {
      sendGroupImage(groupId: $groupId, image: $image, size: $size) { ${MESSAGE_FIELDS} } }`,
    variables: { groupId, size },
    file: bytes,
  });
}
