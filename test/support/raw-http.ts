import net from 'node:net';

/** One HTTP answer as it came off the wire. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What became of a request sent over a raw socket. */
export type RawOutcome =
  | { kind: 'answered'; answer: RawAnswer; ms: number; extra: RawAnswer[] }
  /** The server closed the connection without a complete answer. */
  | { kind: 'closed'; ms: number; partial: string }
  /** Nothing complete came back within the time allowed, and the connection stayed open. */
  | { kind: 'hung'; ms: number; partial: string };

export interface RawOptions {
  /** The bytes are sent in these pieces, `delayMs` apart (a slow client). */
  pieces?: number;
  delayMs?: number;
  /** After sending, the client ends its side (a body cut short, then silence). */
  halfClose?: boolean;
  /** The client cuts the connection after sending this many bytes, without waiting for an answer. */
  abortAfter?: number;
  /** Wait this long for an answer (the hang detector). */
  timeoutMs?: number;
  /** Answers to wait for (a body longer than declared is a second request); 1 unless set. */
  answers?: number;
}

/**
 * Sends `bytes` to the server at `baseUrl` as they are, over a socket of its own, and reads what
 * comes back: every complete HTTP answer, until the server closes or goes quiet. No HTTP client
 * stands between, so requests no client would send can be sent.
 */
export function rawExchange(baseUrl: string, bytes: Buffer, options: RawOptions = {}): Promise<RawOutcome> {
  const { port, hostname } = new URL(baseUrl);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const answers: RawAnswer[] = [];
    const finish = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const ms = () => Date.now() - started;
    const settleOnAnswers = () => {
      if (answers.length) finish({ kind: 'answered', answer: answers[0], ms: ms(), extra: answers.slice(1) });
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (;;) {
        const parsed = parseAnswer(received);
        if (!parsed) break;
        // 100 Continue is not the answer.
        if (parsed.answer.status >= 200) answers.push(parsed.answer);
        received = received.subarray(parsed.length);
      }
      if (answers.length >= (options.answers ?? 1)) settleOnAnswers();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (answers.length) settleOnAnswers();
      else finish({ kind: 'closed', ms: ms(), partial: received.toString('latin1').slice(0, 500) });
    });
    const timer = setTimeout(() => {
      if (answers.length) settleOnAnswers();
      else finish({ kind: 'hung', ms: ms(), partial: received.toString('latin1').slice(0, 500) });
    }, timeoutMs);

    socket.once('connect', async () => {
      const limit = options.abortAfter ?? bytes.length;
      const toSend = bytes.subarray(0, limit);
      const pieces = Math.max(1, Math.min(options.pieces ?? 1, toSend.length || 1));
      const step = Math.ceil(toSend.length / pieces);
      for (let at = 0; at < toSend.length && !socket.destroyed; at += step) {
        if (at > 0 && options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
        if (!socket.destroyed) socket.write(toSend.subarray(at, at + step));
      }
      if (socket.destroyed) return;
      if (options.abortAfter !== undefined) {
        // Let the bytes leave before the connection is cut.
        setTimeout(() => finish({ kind: 'closed', ms: ms(), partial: '' }), 20);
      } else if (options.halfClose) {
        socket.end();
      }
    });
  });
}

/** One complete answer at the start of `data` (Content-Length or chunked body), or null. */
function parseAnswer(data: Buffer): { answer: RawAnswer; length: number } | null {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const lines = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let at = headEnd + 4;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = data.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
      if (data.length < lineEnd + 2 + size + 2) return null;
      parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
    return { answer: { status, headers, body: Buffer.concat(parts).toString('utf8') }, length: at };
  }
  if (status < 200) return { answer: { status, headers, body: '' }, length: at };
  const length = Number(headers['content-length'] ?? 0);
  if (data.length < at + length) return null;
  return { answer: { status, headers, body: data.subarray(at, at + length).toString('utf8') }, length: at + length };
}

/** An HTTP/1.1 request head with the given lines, then the blank line. */
export function requestHead(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}
