import zlib from 'node:zlib';
import type { RawOptions } from './raw-http';
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
const fileHead = (name: string) => `--${B}\r\nContent-Disposition: form-data; name="${name}"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
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

function json(body: string | Buffer, headers: Record<string, string | number> = {}, path = '/graphql'): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(requestHead('POST', path, { Host: 'glimpse.test', 'Content-Type': 'application/json', 'Content-Length': bytes.length, ...headers })), bytes]);
}

const get = (path: string, headers: Record<string, string | number> = {}) => Buffer.from(requestHead('GET', path, { Host: 'glimpse.test', ...headers }));

/** The hand-written corpus: the requests that stopped the server, and their relatives, on every route. */
export function probes(t: ProbeTarget): Probe[] {
  const auth = { Authorization: `Bearer ${t.token}` };
  const ops = (query = SEND, variables: Record<string, unknown> = { r: t.receiverUid, image: null }) => field('operations', JSON.stringify({ query, variables }));
  const map = field('map', '{"0":["variables.image"]}');
  const cap = t.maxImageBytes + 64 * 1024;
  const multipartProbes: Probe[] = [
    { label: 'multipart: a file and no map', bytes: multipart([ops(), file('0'), CLOSE], auth), status: [400], code: 'BAD_USER_INPUT' },
    { label: 'multipart: a second file part', bytes: multipart([ops(), map, file('0'), file('1'), CLOSE], auth), code: 'BAD_USER_INPUT' },
    { label: 'multipart: an unmapped file, then no closing boundary', bytes: multipart([ops(), map, file('7')], auth), code: 'BAD_USER_INPUT' },
    { label: 'multipart: an unmapped file, then the client leaves mid-file', bytes: multipart([ops(), map, file('7'), CLOSE], auth), options: { abortAfter: 600 }, mayClose: true },
    { label: 'multipart: a file nobody reads (invalid variables), then no closing boundary', bytes: multipart([ops(SEND, { r: 'x', image: null }), map, file('0')], auth) },
    { label: 'multipart: a file nobody reads (unused $image), then no closing boundary', bytes: multipart([ops('mutation($image: Upload!) { __typename }'), map, file('0')], auth), status: [400] },
    { label: 'multipart: a file nobody reads (a query), then the client leaves', bytes: multipart([ops('{ me { uid } }'), map, file('0'), CLOSE], auth), options: { abortAfter: 500 }, mayClose: true },
    { label: 'multipart: a file nobody reads (a bad token)', bytes: multipart([ops(), map, file('0'), CLOSE], { Authorization: 'Bearer nope.nope' }), status: [200], code: 'UNAUTHENTICATED' },
    { label: 'multipart: one file mapped to two variables', bytes: multipart([ops(), field('map', '{"0":["variables.image","variables.r"]}'), file('0'), CLOSE], auth), status: [400], code: 'BAD_USER_INPUT' },
    {
      label: 'multipart: one upload used by two sends',
      bytes: multipart([ops('mutation($r: Int!, $image: Upload!) { a: sendImage(receiverUid: $r, image: $image) { id } b: sendImage(receiverUid: $r, image: $image) { id } }'), map, file('0'), CLOSE], auth),
      status: [400],
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      label: 'multipart: one upload used by two sends, one in a fragment',
      bytes: multipart([ops('mutation($r: Int!, $image: Upload!) { a: sendImage(receiverUid: $r, image: $image) { id } ...F } fragment F on Mutation { b: sendImage(receiverUid: $r, image: $image) { id } }'), map, file('0'), CLOSE], auth),
      status: [400],
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    { label: 'multipart: no boundary', bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Type': 'multipart/form-data' }), status: [400], code: 'BAD_USER_INPUT' },
    { label: 'multipart: a boundary that lies', bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Type': 'multipart/form-data; boundary=other' }), status: [400] },
    { label: 'multipart: operations not JSON', bytes: multipart([field('operations', '{nope'), map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: operations a number', bytes: multipart([field('operations', '7'), map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map before operations', bytes: multipart([map, ops(), file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map not JSON', bytes: multipart([ops(), field('map', '{'), file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map a list', bytes: multipart([ops(), field('map', '[1]'), file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map into nothing', bytes: multipart([ops(), field('map', '{"0":["variables.nothing.x"]}'), file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: map into __proto__', bytes: multipart([ops(), field('map', '{"0":["__proto__.polluted"]}'), file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: an unknown field', bytes: multipart([ops(), field('extra', 'x'), map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: operations twice', bytes: multipart([ops(), ops(), map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: the file first', bytes: multipart([file('0'), ops(), map, CLOSE], auth), status: [400] },
    { label: 'multipart: an empty body', bytes: multipart([], auth), status: [400] },
    { label: 'multipart: a malformed part header', bytes: multipart([ops(), `--${B}\r\nno colon here\r\n\r\nx\r\n`, map, file('0'), CLOSE], auth), status: [400] },
    { label: 'multipart: an empty file', bytes: multipart([ops(), map, file('0', Buffer.alloc(0)), CLOSE], auth), code: 'UNSUPPORTED_MEDIA_TYPE' },
    { label: 'multipart: a file over MAX_IMAGE_BYTES', bytes: multipart([ops(), map, file('0', Buffer.concat([JPEG, Buffer.alloc(t.maxImageBytes)])), CLOSE], auth), code: 'PAYLOAD_TOO_LARGE' },
    {
      label: 'multipart: a chunked body larger than any request may carry',
      bytes: Buffer.concat([
        Buffer.from(requestHead('POST', '/graphql', { Host: 'x', 'Content-Type': `multipart/form-data; boundary=${B}`, 'apollo-require-preflight': 'true', 'Transfer-Encoding': 'chunked', ...auth })),
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
    { label: 'multipart: a real send, slowly', bytes: multipart([ops(), map, file('0'), CLOSE], auth), options: { pieces: 12, delayMs: 15 }, status: [200] },
    { label: 'multipart: a real send with Expect: 100-continue', bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, Expect: '100-continue' }), status: [200] },
    { label: 'multipart: Content-Length longer than the body', bytes: multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Length': 9000 }), options: { halfClose: true }, mayClose: true },
    {
      label: 'multipart: a body longer than its Content-Length',
      bytes: Buffer.concat([multipart([ops(), map, file('0'), CLOSE], { ...auth, 'Content-Length': 3000 })]),
      options: { answers: 2 },
      mayClose: true,
    },
  ];
  const deflateBomb = zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024, 32));
  const jsonProbes: Probe[] = [
    { label: 'json: not JSON', bytes: json('{"query": '), status: [400] },
    { label: 'json: a number', bytes: json('42'), status: [400] },
    { label: 'json: a batch', bytes: json('[{"query":"{ __typename }"},{"query":"{ __typename }"}]'), status: [400] },
    { label: 'json: query not a string', bytes: json('{"query": 5}'), status: [400] },
    { label: 'json: variables a string', bytes: json('{"query": "{ __typename }", "variables": "x"}'), status: [400] },
    { label: 'json: no query', bytes: json('{}'), status: [400] },
    { label: 'json: over the token limit', bytes: json(JSON.stringify({ query: `{ me { ${'uid '.repeat(2000)} } }` })), status: [400], code: 'GRAPHQL_PARSE_FAILED' },
    { label: 'json: a syntax error', bytes: json('{"query": "{ me { uid "}'), status: [400], code: 'GRAPHQL_PARSE_FAILED' },
    { label: 'json: an unknown field', bytes: json('{"query": "{ nope }"}'), status: [400], code: 'GRAPHQL_VALIDATION_FAILED' },
    { label: 'json: deeply nested variables', bytes: json(`{"query":"query($s: String) { __typename }","variables":{"s":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`), status: [400] },
    { label: 'json: deeply nested selections', bytes: json(JSON.stringify({ query: `{ ${'me { '.repeat(300)}uid${' }'.repeat(300)} }` })), status: [400] },
    { label: 'json: over 1 MB', bytes: json(JSON.stringify({ query: '{ __typename }', pad: 'x'.repeat(1_100_000) })), status: [413], code: 'PAYLOAD_TOO_LARGE' },
    { label: 'json: text/plain', bytes: json('{"query":"{ __typename }"}', { 'Content-Type': 'text/plain' }), status: [400] },
    { label: 'json: an unknown charset', bytes: json('{"query":"{ __typename }"}', { 'Content-Type': 'application/json; charset=klingon' }), status: [415] },
    { label: 'json: gzip that is not gzip', bytes: json('not gzip at all', { 'Content-Encoding': 'gzip' }), status: [400] },
    { label: 'json: an unknown Content-Encoding', bytes: json('{}', { 'Content-Encoding': 'zz' }), status: [415] },
    { label: 'json: gzip that inflates past 1 MB', bytes: json(deflateBomb, { 'Content-Encoding': 'gzip' }), status: [413] },
    { label: 'json: operationName a number', bytes: json('{"query":"{ __typename }","operationName":5}'), status: [400] },
    { label: 'json: Content-Length longer than the body', bytes: json('{"query":"{ __typename }"}', { 'Content-Length': 500 }), options: { halfClose: true }, mayClose: true },
    { label: 'json: a body longer than its Content-Length', bytes: json('{"query":"{ __typename }"}GARBAGE GARBAGE\r\n\r\n', { 'Content-Length': 26 }), options: { answers: 2 }, mayClose: true },
    { label: 'json: slowly', bytes: json('{"query":"{ __typename }"}'), options: { pieces: 10, delayMs: 20 }, status: [200] },
    { label: 'GET: a mutation', bytes: get('/graphql?query=mutation%20%7B%20__typename%20%7D', { 'apollo-require-preflight': '1' }), status: [400, 405] },
    { label: 'GET: variables not JSON', bytes: get('/graphql?query=%7B__typename%7D&variables=%7B', { 'apollo-require-preflight': '1' }), status: [400] },
    { label: 'GET: extensions not JSON', bytes: get('/graphql?query=%7B__typename%7D&extensions=%5B', { 'apollo-require-preflight': '1' }), status: [400] },
    { label: 'GET: query twice', bytes: get('/graphql?query=%7B__typename%7D&query=%7B__typename%7D', { 'apollo-require-preflight': '1' }) },
    { label: 'GET: no query', bytes: get('/graphql', { Accept: 'application/json' }) },
    { label: 'PUT /graphql', bytes: Buffer.from(requestHead('PUT', '/graphql', { Host: 'x', 'Content-Length': 0 })) },
    { label: 'DELETE /graphql', bytes: Buffer.from(requestHead('DELETE', '/graphql', { Host: 'x' })) },
    { label: 'OPTIONS /graphql', bytes: Buffer.from(requestHead('OPTIONS', '/graphql', { Host: 'x' })) },
  ];
  const token = t.downloadToken;
  const downloadProbes: Probe[] = [
    { label: 'download: a short token', bytes: get('/download/x'), status: [403] },
    { label: 'download: a very long token', bytes: get(`/download/${'a'.repeat(8000)}`), status: [403] },
    { label: 'download: a forged token', bytes: get(`/download/${token.slice(0, -3)}AAA`), status: [403] },
    { label: 'download: bad percent-encoding', bytes: get('/download/%E0%A4%A'), status: [400], code: 'BAD_USER_INPUT' },
    { label: 'download: a lone percent', bytes: get('/download/%'), status: [400], code: 'BAD_USER_INPUT' },
    { label: 'download: an encoded slash', bytes: get('/download/a%2F..%2F..%2Fetc'), status: [403, 404] },
    { label: 'download: Range not bytes', bytes: get(`/download/${token}`, { Range: 'items=0-1' }), status: [200, 410] },
    { label: 'download: Range garbage', bytes: get(`/download/${token}`, { Range: 'bytes=abc' }), status: [200, 410, 416] },
    { label: 'download: Range end before start', bytes: get(`/download/${token}`, { Range: 'bytes=5-2' }), status: [200, 410, 416] },
    { label: 'download: Range past the end', bytes: get(`/download/${token}`, { Range: 'bytes=999999999999999999-' }), status: [410, 416] },
    { label: 'download: Range of nothing', bytes: get(`/download/${token}`, { Range: 'bytes=-0' }), status: [200, 410, 416] },
    { label: 'download: a thousand ranges', bytes: get(`/download/${token}`, { Range: `bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(',')}` }), status: [200, 206, 410] },
    { label: 'download: one byte', bytes: get(`/download/${token}`, { Range: 'bytes=0-0' }), status: [206, 410] },
    { label: 'download: POST', bytes: json('{}', {}, `/download/${token}`), status: [404] },
  ];
  const headerProbes: Probe[] = [
    { label: 'headers: over 16 KiB', bytes: get('/healthz', { 'X-Big': 'x'.repeat(20_000) }), status: [431], mayClose: true },
    { label: 'headers: a URL over 16 KiB', bytes: get(`/graphql?query=${'x'.repeat(20_000)}`), status: [414, 431], mayClose: true },
    { label: 'headers: a control character', bytes: Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n'), status: [400], mayClose: true },
    { label: 'headers: Content-Length and Transfer-Encoding', bytes: json('{}', { 'Transfer-Encoding': 'chunked' }), status: [400], mayClose: true },
    { label: 'headers: two Content-Lengths', bytes: Buffer.from('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'), status: [400], mayClose: true },
    { label: 'headers: Content-Length not a number', bytes: Buffer.from('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'), status: [400], mayClose: true },
    { label: 'headers: no Host', bytes: Buffer.from('GET /healthz HTTP/1.1\r\n\r\n'), status: [400], mayClose: true },
    { label: 'headers: HTTP/1.0', bytes: Buffer.from('GET /healthz HTTP/1.0\r\n\r\n'), status: [200] },
    { label: 'headers: a long Authorization', bytes: json('{"query":"{ me { uid } }"}', { Authorization: `Bearer ${'a'.repeat(10_000)}` }), status: [200], code: 'UNAUTHENTICATED' },
    { label: 'headers: a long X-Request-Id', bytes: get('/healthz', { 'X-Request-Id': 'r'.repeat(10_000) }), status: [200] },
    { label: 'headers: a bad chunk size', bytes: Buffer.from('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'), status: [400], mayClose: true },
    { label: 'not HTTP', bytes: Buffer.from('HELLO THERE\r\n\r\n'), status: [400], mayClose: true },
    { label: 'a request head cut short', bytes: Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n'), options: { halfClose: true }, mayClose: true },
    { label: 'an unknown path', bytes: get('/nothing/here'), status: [404] },
    { label: 'readyz by POST', bytes: json('{}', {}, '/readyz'), status: [404] },
    { label: 'the receipt key with a body', bytes: Buffer.from(requestHead('GET', '/.well-known/glimpse-receipt-key', { Host: 'x', 'Content-Length': 5 }) + 'hello'), status: [200] },
  ];
  return [...multipartProbes, ...jsonProbes, ...downloadProbes, ...headerProbes];
}
