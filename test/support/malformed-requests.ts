import type { RawOptions } from './raw-http';
import { httpProbes } from './malformed-http';
import { requestHead } from './raw-http';

/** What the probes need to know of the running server. */
export interface ProbeTarget {
  token: string;
  receiverUid: number;
  maxImageBytes: number;
  /** A download token that works (its path after /download/). */
  downloadToken: string;
}

/** One hand-written request no client should send, and what it must get. */
export interface Probe {
  label: string;
  bytes: Buffer;
  options?: RawOptions;
  /** The statuses that are right; any below 500 when unset. */
  status?: number[];
  /** The `extensions.code` of the first error. */
  code?: string;
  /** The client broke HTTP's framing or left: the server may close without an answer. */
  mayClose?: boolean;
}

const SEND = 'mutation($r: Int!, $image: Upload!) { sendImage(receiverUid: $r, image: $image) { id messageKey } }';
const B = 'probeBoundary';
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]), Buffer.alloc(4000, 7)]);

const field = (name: string, value: string) => `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const fileHead = (name: string) =>
  `--${B}\r\nContent-Disposition: form-data; name="${name}"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
const file = (name: string, bytes = JPEG) => Buffer.concat([Buffer.from(fileHead(name)), bytes, Buffer.from('\r\n')]);
const CLOSE = `--${B}--\r\n`;

function multipart(parts: (string | Buffer)[], headers: Record<string, string | number> = {}): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  const head = requestHead('POST', '/graphql', {
    Host: 'glimpse.test',
    'Content-Type': `multipart/form-data; boundary=${B}`,
    'apollo-require-preflight': 'true',
    'Content-Length': body.length,
    ...headers,
  });
  return Buffer.concat([Buffer.from(head), body]);
}

/** The hand-written corpus: the requests that stopped the server, and their relatives, on every route. */
export function probes(t: ProbeTarget): Probe[] {
  const auth = { Authorization: `Bearer ${t.token}` };
  const ops = (query = SEND, variables: Record<string, unknown> = { r: t.receiverUid, image: null }) =>
    field('operations', JSON.stringify({ query, variables }));
  const map = field('map', '{"0":["variables.image"]}');
  const cap = t.maxImageBytes + 64 * 1024;
  const multipartProbes: Probe[] = [
    { label: 'multipart: a file and no map', bytes: multipart([ops(), file('0'), CLOSE], auth), status: [400], code: 'BAD_USER_INPUT' },
    { label: 'multipart: a second file part', bytes: multipart([ops(), map, file('0'), file('1'), CLOSE], auth), code: 'BAD_USER_INPUT' },
    {
      label: 'multipart: an unmapped file, then no closing boundary',
      bytes: multipart([ops(), map, file('7')], auth),
      code: 'BAD_USER_INPUT',
    },
    {
      label: 'multipart: an unmapped file, then the client leaves mid-file',
      bytes: multipart([ops(), map, file('7'), CLOSE], auth),
      options: { abortAfter: 600 },
      mayClose: true,
    },
    {
      label: 'multipart: a file nobody reads (invalid variables), then no closing boundary',
      bytes: multipart([ops(SEND, { r: 'x', image: null }), map, file('0')], auth),
    },
    {
      label: 'multipart: a file nobody reads (unused $image), then no closing boundary',
      bytes: multipart([ops('mutation($image: Upload!) { __typename }'), map, file('0')], auth),
      status: [400],
    },
    {
      label: 'multipart: a file nobody reads (a query), then the client leaves',
      bytes: multipart([ops('{ me { uid } }'), map, file('0'), CLOSE], auth),
      options: { abortAfter: 500 },
      mayClose: true,
    },
    {
      label: 'multipart: a file nobody reads (a bad token)',
      bytes: multipart([ops(), map, file('0'), CLOSE], { Authorization: 'Bearer nope.nope' }),
      status: [200],
      code: 'UNAUTHENTICATED',
    },
    {
      label: 'multipart: one file mapped to two variables',
      bytes: multipart([ops(), field('map', '{"0":["variables.image","variables.r"]}'), file('0'), CLOSE], auth),
      status: [400],
      code: 'BAD_USER_INPUT',
    },
    {
      label: 'multipart: one upload used by two sends',
      bytes: multipart(
        [
          ops(
            'mutation($r: Int!, $image: Upload!) { a: sendImage(receiverUid: $r, image: $image) { id } b: sendImage(receiverUid: $r, image: $image) { id } }',
          ),
          map,
          file('0'),
          CLOSE,
        ],
        auth,
      ),
      status: [400],
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      label: 'multipart: one upload used by two sends, one in a fragment',
      bytes: multipart(
        [
          ops(
            'mutation($r: Int!, $image: Upload!) { a: sendImage(receiverUid: $r, image: $image) { id } ...F } fragment F on Mutation { b: sendImage(receiverUid: $r, image: $image) { id } }',
          ),
          map,
          file('0'),
          CLOSE,
        ],
        auth,
      ),
      status: [400],
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      label: 'multipart: no boundary',
      bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Type': 'multipart/form-data' }),
      status: [400],
      code: 'BAD_USER_INPUT',
    },
    {
      label: 'multipart: a boundary that lies',
      bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Type': 'multipart/form-data; boundary=other' }),
      status: [400],
    },
    {
      label: 'multipart: operations not JSON',
      bytes: multipart([field('operations', '{nope'), map, file('0'), CLOSE], auth),
      status: [400],
    },
    { label: 'multipart: operations a number', bytes: multipart([field('operations', '7'), map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map before operations', bytes: multipart([map, ops(), file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map not JSON', bytes: multipart([ops(), field('map', '{'), file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map a list', bytes: multipart([ops(), field('map', '[1]'), file('0'), CLOSE], auth), status: [400] },
    {
      label: 'multipart: map into nothing',
      bytes: multipart([ops(), field('map', '{"0":["variables.nothing.x"]}'), file('0'), CLOSE], auth),
      status: [400],
    },
    {
      label: 'multipart: map into __proto__',
      bytes: multipart([ops(), field('map', '{"0":["__proto__.polluted"]}'), file('0'), CLOSE], auth),
      status: [400],
    },
    { label: 'multipart: an unknown field', bytes: multipart([ops(), field('extra', 'x'), map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: operations twice', bytes: multipart([ops(), ops(), map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: the file first', bytes: multipart([file('0'), ops(), map, CLOSE], auth), status: [400] },
    { label: 'multipart: an empty body', bytes: multipart([], auth), status: [400] },
    {
      label: 'multipart: a malformed part header',
      bytes: multipart([ops(), `--${B}\r\nno colon here\r\n\r\nx\r\n`, map, file('0'), CLOSE], auth),
      status: [400],
    },
    {
      label: 'multipart: an empty file',
      bytes: multipart([ops(), map, file('0', Buffer.alloc(0)), CLOSE], auth),
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      label: 'multipart: a file over MAX_IMAGE_BYTES',
      bytes: multipart([ops(), map, file('0', Buffer.concat([JPEG, Buffer.alloc(t.maxImageBytes)])), CLOSE], auth),
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      label: 'multipart: a chunked body larger than any request may carry',
      bytes: Buffer.concat([
        Buffer.from(
          requestHead('POST', '/graphql', {
            Host: 'x',
            'Content-Type': `multipart/form-data; boundary=${B}`,
            'apollo-require-preflight': 'true',
            'Transfer-Encoding': 'chunked',
            ...auth,
          }),
        ),
        ...Array.from({ length: Math.ceil(cap / 32768) + 2 }, (_, i) => {
          const piece = i === 0 ? Buffer.concat([Buffer.from(ops() + map + fileHead('0')), JPEG]) : Buffer.alloc(32768, 1);
          return Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
        }),
        Buffer.from('0\r\n\r\n'),
      ]),
      // Answered by the send (200) or by the parser (413), depending on which sees it first.
      status: [200, 413],
      code: 'PAYLOAD_TOO_LARGE',
      mayClose: true,
    },
    {
      label: 'multipart: a real send, slowly',
      bytes: multipart([ops(), map, file('0'), CLOSE], auth),
      options: { pieces: 12, delayMs: 15 },
      status: [200],
    },
    {
      label: 'multipart: a real send with Expect: 100-continue',
      bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, Expect: '100-continue' }),
      status: [200],
    },
    {
      label: 'multipart: Content-Length longer than the body',
      bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Length': 9000 }),
      options: { halfClose: true },
      mayClose: true,
    },
    {
      label: 'multipart: a body longer than its Content-Length',
      bytes: Buffer.concat([multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Length': 3000 })]),
      options: { answers: 2 },
      mayClose: true,
    },
  ];
  return [...multipartProbes, ...httpProbes(t)];
}
