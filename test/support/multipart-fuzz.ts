import fc from 'fast-check';
import { requestHead } from './raw-http';

/**
 * Randomly built GraphQL multipart requests for the robustness suite: fields missing, repeated,
 * out of order, unknown, huge or of the wrong type; files unmapped, doubled, oversized; part
 * headers broken; boundaries that lie; bodies cut short, longer than declared, chunked, slow, or
 * abandoned. Most stay close to a real send, so that they get deep into the server before they
 * go wrong.
 */

export interface FuzzTarget {
  /** A valid token, and a user to send to. */
  token: string;
  receiverUid: number;
  maxImageBytes: number;
}

type Ops =
  | 'send'
  | 'send-wrong-size'
  | 'send-nobody'
  | 'twice'
  | 'unused'
  | 'query'
  | 'batch'
  | 'bad-json'
  | 'scalar'
  | 'wrong-types'
  | 'big'
  | 'deep';
type MapKind =
  'ok' | 'two-paths' | 'two-files' | 'bad-path' | 'proto' | 'bad-json' | 'array' | 'string-entry' | 'empty' | 'number-path' | 'other-name';
type Content = { kind: 'jpeg' | 'random' | 'empty' | 'oversize' | 'boundary-like'; size: number; fill: number };

type Part =
  | { kind: 'operations'; ops: Ops }
  | { kind: 'map'; map: MapKind }
  | { kind: 'file'; name: string; content: Content; filename: string | null; contentType: string | null }
  | { kind: 'field'; name: string; value: string }
  | { kind: 'broken-header'; text: string };

export type Framing = 'length' | 'chunked' | 'short' | 'long';
export type Delivery = 'whole' | 'slow' | 'abort';

export interface MultipartCase {
  parts: Part[];
  boundary: 'ok' | 'missing-close' | 'lying' | 'none' | 'epilogue' | 'preamble' | 'truncated';
  cutAt: number;
  framing: Framing;
  delivery: Delivery;
  auth: 'valid' | 'none' | 'bad';
  preflight: boolean;
  expect100: boolean;
}

const SEND = 'mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { id messageKey } }';
const TWICE =
  'mutation($r: Int!, $image: Upload!) { a: sendImage(receiverUid: $r, image: $image) { id } b: sendImage(receiverUid: $r, image: $image) { id } }';

const content: fc.Arbitrary<Content> = fc.record({
  kind: fc.constantFrom<Content['kind']>('jpeg', 'jpeg', 'jpeg', 'random', 'empty', 'oversize', 'boundary-like'),
  size: fc.integer({ min: 1, max: 48 * 1024 }),
  fill: fc.integer({ min: 0, max: 255 }),
});

const name = fc.oneof(fc.constantFrom('0', '0', '0', '1', 'operations', 'map', ''), fc.string({ maxLength: 12 }));

const part: fc.Arbitrary<Part> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('operations' as const),
      ops: fc.constantFrom<Ops>(
        'send',
        'send',
        'send',
        'send-wrong-size',
        'send-nobody',
        'twice',
        'unused',
        'query',
        'batch',
        'bad-json',
        'scalar',
        'wrong-types',
        'big',
        'deep',
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('map' as const),
      map: fc.constantFrom<MapKind>(
        'ok',
        'ok',
        'ok',
        'two-paths',
        'two-files',
        'bad-path',
        'proto',
        'bad-json',
        'array',
        'string-entry',
        'empty',
        'number-path',
        'other-name',
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('file' as const),
      name,
      content,
      filename: fc.option(fc.constantFrom('a.jpg', 'x', '', '../../etc/passwd', 'ü.png'), { nil: null, freq: 5 }),
      contentType: fc.option(fc.constantFrom('image/jpeg', 'application/octet-stream', 'text/plain', 'multipart/mixed'), {
        nil: null,
        freq: 5,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('field' as const), name, value: fc.string({ maxLength: 40 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('broken-header' as const),
      text: fc.constantFrom('Content-Disposition: form-data', 'X: y', 'garbage without colon', 'Content-Disposition: form-data; name=', ''),
    }),
  },
);

/** A real send's three parts, sometimes with more parts put in, sometimes shuffled. */
const nearlyValid: fc.Arbitrary<Part[]> = fc
  .tuple(fc.array(part, { minLength: 1, maxLength: 2 }), fc.nat(), fc.integer({ min: 0, max: 9 }))
  .map(([extras, at, how]) => {
    const canonical: Part[] = [
      { kind: 'operations', ops: 'send' },
      { kind: 'map', map: 'ok' },
      {
        kind: 'file',
        name: '0',
        content: { kind: 'jpeg', size: 2000 + (at % 30_000), fill: at % 256 },
        filename: 'a.jpg',
        contentType: 'image/jpeg',
      },
    ];
    if (how < 3) return canonical;
    const list = [...canonical];
    list.splice(at % (list.length + 1), how < 6 ? 0 : 1, ...extras);
    return list;
  });

const partsArb: fc.Arbitrary<Part[]> = fc.oneof(
  { weight: 2, arbitrary: nearlyValid },
  { weight: 1, arbitrary: fc.tuple(part, part, part).map((p) => p) },
  { weight: 1, arbitrary: fc.array(part, { maxLength: 5 }) },
);

export const multipartCase: fc.Arbitrary<MultipartCase> = fc.record({
  parts: partsArb,
  boundary: fc.constantFrom<MultipartCase['boundary']>(
    'ok',
    'ok',
    'ok',
    'ok',
    'missing-close',
    'lying',
    'none',
    'epilogue',
    'preamble',
    'truncated',
  ),
  cutAt: fc.double({ min: 0, max: 1, noNaN: true }),
  framing: fc.constantFrom<Framing>('length', 'length', 'length', 'length', 'chunked', 'short', 'long'),
  delivery: fc.constantFrom<Delivery>('whole', 'whole', 'whole', 'whole', 'slow', 'abort'),
  auth: fc.constantFrom<MultipartCase['auth']>('valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'none', 'bad'),
  preflight: fc.constantFrom(true, true, true, true, false),
  expect100: fc.constantFrom(false, false, false, false, true),
});

function operationsJson(ops: Ops, t: FuzzTarget, size: number): string {
  const send = (vars: Record<string, unknown>) => JSON.stringify({ query: SEND, variables: { r: t.receiverUid, image: null, ...vars } });
  switch (ops) {
    case 'send':
      return send({ size });
    case 'send-wrong-size':
      return send({ size: size + 1 });
    case 'send-nobody':
      return send({ r: 2_000_000_000 });
    case 'twice':
      return JSON.stringify({ query: TWICE, variables: { r: t.receiverUid, image: null } });
    case 'unused':
      return JSON.stringify({ query: 'mutation($image: Upload!) { __typename }', variables: { image: null } });
    case 'query':
      return JSON.stringify({ query: '{ me { uid } }', variables: { image: null } });
    case 'batch':
      return `[${send({})},${send({})}]`;
    case 'bad-json':
      return '{"query": "mutation {';
    case 'scalar':
      return '42';
    case 'wrong-types':
      return JSON.stringify({ query: 5, variables: 'x', image: null });
    case 'big':
      return JSON.stringify({ query: SEND, variables: { r: t.receiverUid, image: null, pad: 'p'.repeat(200_000) } });
    case 'deep':
      return `{"query":${JSON.stringify(SEND)},"variables":{"r":${t.receiverUid},"image":null,"size":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
  }
}

function mapJson(map: MapKind): string {
  const m: Record<MapKind, string> = {
    ok: '{"0":["variables.image"]}',
    'two-paths': '{"0":["variables.image","variables.image"]}',
    'two-files': '{"0":["variables.image"],"1":["variables.other"]}',
    'bad-path': '{"0":["variables.nothing.deeper"]}',
    proto: '{"0":["__proto__.polluted"]}',
    'bad-json': '{"0":',
    array: '[["variables.image"]]',
    'string-entry': '{"0":"variables.image"}',
    empty: '{}',
    'number-path': '{"0":[5]}',
    'other-name': '{"x":["variables.image"]}',
  };
  return m[map];
}

function fileBytes(c: Content, maxImageBytes: number, boundary: string): Buffer {
  const jpegHead = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);
  const fill = (n: number) => Buffer.alloc(n, c.fill);
  switch (c.kind) {
    case 'jpeg':
      return Buffer.concat([jpegHead, fill(c.size)]);
    case 'random':
      return fill(c.size);
    case 'empty':
      return Buffer.alloc(0);
    case 'oversize':
      return Buffer.concat([jpegHead, fill(maxImageBytes + (c.size % 1000))]);
    case 'boundary-like':
      return Buffer.concat([jpegHead, Buffer.from(`\r\n--${boundary.slice(0, -1)}\r\n--${boundary}x`), fill(c.size % 100)]);
  }
}

/** The bytes of one generated request (head and body), and how to send them. */
export interface BuiltRequest {
  bytes: Buffer;
  /** Where the first request ends on the wire (the rest, if any, is a body longer than declared). */
  requestEnd: number;
  delivery: Delivery;
  framing: Framing;
  /** Where the client cuts the connection, for `abort`: always inside the first request. */
  abortAfter: number;
}

export function buildMultipart(c: MultipartCase, t: FuzzTarget): BuiltRequest {
  const boundary = `----fuzz${c.cutAt.toString(36).slice(2, 10)}x`;
  const file = c.parts.find((p): p is Extract<Part, { kind: 'file' }> => p.kind === 'file');
  const firstFile = file ? fileBytes(file.content, t.maxImageBytes, boundary) : Buffer.alloc(0);
  const pieces: Buffer[] = [];
  if (c.boundary === 'preamble') pieces.push(Buffer.from('this is a preamble\r\n'));
  for (const p of c.parts) {
    const head = (disposition: string, type: string | null) =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`);
    if (p.kind === 'operations')
      pieces.push(head('name="operations"', null), Buffer.from(operationsJson(p.ops, t, firstFile.length)), Buffer.from('\r\n'));
    else if (p.kind === 'map') pieces.push(head('name="map"', null), Buffer.from(mapJson(p.map)), Buffer.from('\r\n'));
    else if (p.kind === 'field')
      pieces.push(head(`name="${p.name.replace(/["\r\n]/g, '')}"`, null), Buffer.from(p.value), Buffer.from('\r\n'));
    else if (p.kind === 'broken-header') pieces.push(Buffer.from(`--${boundary}\r\n${p.text}\r\n\r\nvalue\r\n`));
    else {
      const filename = p.filename === null ? '' : `; filename="${p.filename}"`;
      const bytes = p === file ? firstFile : fileBytes(p.content, t.maxImageBytes, boundary);
      pieces.push(head(`name="${p.name.replace(/["\r\n]/g, '')}"${filename}`, p.contentType), bytes, Buffer.from('\r\n'));
    }
  }
  if (c.boundary !== 'missing-close') pieces.push(Buffer.from(`--${boundary}--\r\n`));
  if (c.boundary === 'epilogue') pieces.push(Buffer.from('trailing words after the close\r\n'));
  let body = Buffer.concat(pieces);
  if (c.boundary === 'truncated') body = body.subarray(0, Math.floor(body.length * c.cutAt));
  const headerBoundary = c.boundary === 'lying' ? `${boundary}-not` : boundary;
  const headers: Record<string, string | number> = {
    Host: 'glimpse.test',
    'Content-Type': c.boundary === 'none' ? 'multipart/form-data' : `multipart/form-data; boundary=${headerBoundary}`,
  };
  if (c.preflight) headers['apollo-require-preflight'] = 'true';
  if (c.auth === 'valid') headers.Authorization = `Bearer ${t.token}`;
  if (c.auth === 'bad') headers.Authorization = `Bearer ${'0'.repeat(64)}.nope`;
  if (c.expect100) headers.Expect = '100-continue';
  const extra = Math.max(1, Math.floor(body.length * c.cutAt * 0.5));
  let wire: Buffer;
  let requestEnd: number;
  if (c.framing === 'chunked') {
    headers['Transfer-Encoding'] = 'chunked';
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length; at += 4096) {
      const piece = body.subarray(at, at + 4096);
      chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    }
    wire = Buffer.concat([Buffer.from(requestHead('POST', '/graphql', headers)), ...chunks, Buffer.from('0\r\n\r\n')]);
    requestEnd = wire.length;
  } else {
    // Longer than declared: the declared part stops before the closing boundary. A complete
    // form followed by bytes that are no request would be sent, and its answer could be lost to
    // Node's 400 for those bytes: the client's doing, not a refused send.
    const closing = body.indexOf(`--${boundary}--`);
    const longCut = Math.max(0, Math.min(body.length - extra, closing >= 0 ? closing : body.length));
    const declared = c.framing === 'short' ? body.length + extra : c.framing === 'long' ? longCut : body.length;
    headers['Content-Length'] = declared;
    const head = Buffer.from(requestHead('POST', '/graphql', headers));
    wire = Buffer.concat([head, body]);
    requestEnd = head.length + Math.min(declared, body.length);
  }
  const abortAfter = Math.min(requestEnd - 1, Math.floor(requestEnd * c.cutAt));
  return { bytes: wire, requestEnd, delivery: c.delivery, framing: c.framing, abortAfter };
}
