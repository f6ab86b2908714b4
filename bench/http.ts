import http from 'node:http';

/**
 * One keep-alive agent for every client request the bench makes, as a phone app would hold.
 * Node honours a server's `Keep-Alive: timeout=N` only when the agent has a timeout of its own;
 * without one it reuses sockets the server has just closed (ECONNRESET under load).
 */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 30_000 });

export interface HttpResult {
  status: number;
  body: Buffer;
}

/** One request with a prebuilt body; the answer is read whole (answers are small JSON). */
export function request(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body ? { ...headers, 'content-length': String(body.length) } : headers, agent });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.end(body);
  });
}

/** GETs a URL and counts the body without keeping it; rejects unless 200 with `expected` bytes. */
export function getCounting(url: string, expected: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
      });
      res.once('error', reject);
      res.once('end', () => {
        if (res.statusCode !== 200 || n !== expected)
          reject(new Error(`GET ${url.slice(0, 80)} answered ${res.statusCode} with ${n} bytes, expected ${expected}`));
        else resolve();
      });
    });
    req.once('error', reject);
  });
}

export async function postJson<T>(url: string, payload: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await request(url, 'POST', { 'content-type': 'application/json', ...headers }, Buffer.from(JSON.stringify(payload)));
  const text = res.body.toString('utf8');
  if (res.status !== 200) throw new Error(`POST ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Runs `clients` workers, each doing `each` calls of `op` in turn; resolves with the wall time in ms. */
export async function timed(clients: number, each: number, op: (client: number, i: number) => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < each; i++) await op(c, i);
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
