import http from 'node:http';

/** Helpers of the one-process bench (bench:social): timed requests and their statistics. */

export interface Timing {
  median: number;
  p90: number;
  runs: number;
}

export const round = (n: number) => Math.round(n * 100) / 100;

export function stats(ms: number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  return { median: round(s[Math.floor(s.length / 2)]), p90: round(s[Math.floor(s.length * 0.9)]), runs: s.length };
}

/** One POST to /graphql with a body built beforehand; resolves with the milliseconds it took and the parsed answer. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function timedPost(url: string, headers: Record<string, string>, body: Buffer): Promise<{ ms: number; json: any }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(`${url}/graphql`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const json = JSON.parse(Buffer.concat(chunks).toString());
        if (json.errors) reject(new Error(JSON.stringify(json.errors)));
        else resolve({ ms, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
