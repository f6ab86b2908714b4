import zlib from 'node:zlib';
import type { Probe, ProbeTarget } from './malformed-requests';
import { requestHead } from './raw-http';

function json(body: string | Buffer, headers: Record<string, string | number> = {}, path = '/graphql'): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([
    Buffer.from(
      requestHead('POST', path, { Host: 'glimpse.test', 'Content-Type': 'application/json', 'Content-Length': bytes.length, ...headers }),
    ),
    bytes,
  ]);
}

const get = (path: string, headers: Record<string, string | number> = {}) =>
  Buffer.from(requestHead('GET', path, { Host: 'glimpse.test', ...headers }));

/** The hand-written corpus of plain HTTP: JSON and GET on /graphql, downloads, headers and framing. */
export function httpProbes(t: ProbeTarget): Probe[] {
  const deflateBomb = zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024, 32));
  const jsonProbes: Probe[] = [
    { label: 'json: not JSON', bytes: json('{"query": '), status: [400] },
    { label: 'json: a number', bytes: json('42'), status: [400] },
    { label: 'json: a batch', bytes: json('[{"query":"{ __typename }"},{"query":"{ __typename }"}]'), status: [400] },
    { label: 'json: query not a string', bytes: json('{"query": 5}'), status: [400] },
    { label: 'json: variables a string', bytes: json('{"query": "{ __typename }", "variables": "x"}'), status: [400] },
    { label: 'json: no query', bytes: json('{}'), status: [400] },
    {
      label: 'json: over the token limit',
      bytes: json(JSON.stringify({ query: `{ me { ${'uid '.repeat(2000)} } }` })),
      status: [400],
      code: 'GRAPHQL_PARSE_FAILED',
    },
    { label: 'json: a syntax error', bytes: json('{"query": "{ me { uid "}'), status: [400], code: 'GRAPHQL_PARSE_FAILED' },
    { label: 'json: an unknown field', bytes: json('{"query": "{ nope }"}'), status: [400], code: 'GRAPHQL_VALIDATION_FAILED' },
    {
      label: 'json: deeply nested variables',
      bytes: json(`{"query":"query($s: String) { __typename }","variables":{"s":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`),
      status: [400],
    },
    {
      label: 'json: deeply nested selections',
      bytes: json(JSON.stringify({ query: `{ ${'me { '.repeat(300)}uid${' }'.repeat(300)} }` })),
      status: [400],
    },
    {
      label: 'json: over 1 MB',
      bytes: json(JSON.stringify({ query: '{ __typename }', pad: 'x'.repeat(1_100_000) })),
      status: [413],
      code: 'PAYLOAD_TOO_LARGE',
    },
    { label: 'json: text/plain', bytes: json('{"query":"{ __typename }"}', { 'Content-Type': 'text/plain' }), status: [400] },
    {
      label: 'json: an unknown charset',
      bytes: json('{"query":"{ __typename }"}', { 'Content-Type': 'application/json; charset=klingon' }),
      status: [415],
    },
    { label: 'json: gzip that is not gzip', bytes: json('not gzip at all', { 'Content-Encoding': 'gzip' }), status: [400] },
    { label: 'json: an unknown Content-Encoding', bytes: json('{}', { 'Content-Encoding': 'zz' }), status: [415] },
    { label: 'json: gzip that inflates past 1 MB', bytes: json(deflateBomb, { 'Content-Encoding': 'gzip' }), status: [413] },
    { label: 'json: operationName a number', bytes: json('{"query":"{ __typename }","operationName":5}'), status: [400] },
    {
      label: 'json: Content-Length longer than the body',
      bytes: json('{"query":"{ __typename }"}', { 'Content-Length': 500 }),
      options: { halfClose: true },
      mayClose: true,
    },
    {
      label: 'json: a body longer than its Content-Length',
      bytes: json('{"query":"{ __typename }"}GARBAGE GARBAGE\r\n\r\n', { 'Content-Length': 26 }),
      options: { answers: 2 },
      mayClose: true,
    },
    { label: 'json: slowly', bytes: json('{"query":"{ __typename }"}'), options: { pieces: 10, delayMs: 20 }, status: [200] },
    {
      label: 'GET: a mutation',
      bytes: get('/graphql?query=mutation%20%7B%20__typename%20%7D', { 'apollo-require-preflight': '1' }),
      status: [400, 405],
    },
    {
      label: 'GET: variables not JSON',
      bytes: get('/graphql?query=%7B__typename%7D&variables=%7B', { 'apollo-require-preflight': '1' }),
      status: [400],
    },
    {
      label: 'GET: extensions not JSON',
      bytes: get('/graphql?query=%7B__typename%7D&extensions=%5B', { 'apollo-require-preflight': '1' }),
      status: [400],
    },
    {
      label: 'GET: query twice',
      bytes: get('/graphql?query=%7B__typename%7D&query=%7B__typename%7D', { 'apollo-require-preflight': '1' }),
    },
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
    {
      label: 'download: a thousand ranges',
      bytes: get(`/download/${token}`, { Range: `bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(',')}` }),
      status: [200, 206, 410],
    },
    { label: 'download: one byte', bytes: get(`/download/${token}`, { Range: 'bytes=0-0' }), status: [206, 410] },
    { label: 'download: POST', bytes: json('{}', {}, `/download/${token}`), status: [404] },
  ];
  const headerProbes: Probe[] = [
    { label: 'headers: over 16 KiB', bytes: get('/healthz', { 'X-Big': 'x'.repeat(20_000) }), status: [431], mayClose: true },
    { label: 'headers: a URL over 16 KiB', bytes: get(`/graphql?query=${'x'.repeat(20_000)}`), status: [414, 431], mayClose: true },
    {
      label: 'headers: a control character',
      bytes: Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n'),
      status: [400],
      mayClose: true,
    },
    {
      label: 'headers: Content-Length and Transfer-Encoding',
      bytes: json('{}', { 'Transfer-Encoding': 'chunked' }),
      status: [400],
      mayClose: true,
    },
    {
      label: 'headers: two Content-Lengths',
      bytes: Buffer.from('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'),
      status: [400],
      mayClose: true,
    },
    {
      label: 'headers: Content-Length not a number',
      bytes: Buffer.from('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'),
      status: [400],
      mayClose: true,
    },
    { label: 'headers: no Host', bytes: Buffer.from('GET /healthz HTTP/1.1\r\n\r\n'), status: [400], mayClose: true },
    { label: 'headers: HTTP/1.0', bytes: Buffer.from('GET /healthz HTTP/1.0\r\n\r\n'), status: [200] },
    {
      label: 'headers: a long Authorization',
      bytes: json('{"query":"{ me { uid } }"}', { Authorization: `Bearer ${'a'.repeat(10_000)}` }),
      status: [200],
      code: 'UNAUTHENTICATED',
    },
    { label: 'headers: a long X-Request-Id', bytes: get('/healthz', { 'X-Request-Id': 'r'.repeat(10_000) }), status: [200] },
    {
      label: 'headers: a bad chunk size',
      bytes: Buffer.from(
        'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      ),
      status: [400],
      mayClose: true,
    },
    { label: 'not HTTP', bytes: Buffer.from('HELLO THERE\r\n\r\n'), status: [400], mayClose: true },
    {
      label: 'a request head cut short',
      bytes: Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n'),
      options: { halfClose: true },
      mayClose: true,
    },
    { label: 'an unknown path', bytes: get('/nothing/here'), status: [404] },
    { label: 'readyz by POST', bytes: json('{}', {}, '/readyz'), status: [404] },
    {
      label: 'the receipt key with a body',
      bytes: Buffer.from(requestHead('GET', '/.well-known/glimpse-receipt-key', { Host: 'x', 'Content-Length': 5 }) + 'hello'),
      status: [200],
    },
  ];
  return [...jsonProbes, ...downloadProbes, ...headerProbes];
}
