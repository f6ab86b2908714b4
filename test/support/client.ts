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

export const MESSAGE_FIELDS = 'id messageKey receiverUid sendTime exist filetype size downloadUrl sender { uid nickname regionNum phoneHash }';

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
export function httpGet(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
