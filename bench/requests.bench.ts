import autocannon from 'autocannon';
import { BenchUser, gql, ME_QUERY, register, registerBody } from './glimpse-api';
import { median } from './http';
import type { Plan } from './plan';
import type { BenchStack } from './stack';
import { rotate } from './upload.bench';

export interface RateFigure {
  /** Requests per second (median over rounds). */
  rps: number;
  /** Latency in ms, each the median over rounds. */
  p50: number;
  p99: number;
  samples: { rps: number; p50: number; p99: number }[];
}

type Target = 'register' | 'me' | 'bareQuery';
const TARGETS: Target[] = ['register', 'me', 'bareQuery'];

/**
 * Request rates with autocannon at 32 connections: register (a new phone on every request, so
 * every request inserts a user), me (an authenticated read), and the bare Apollo server's
 * trivial query on the same express 5 + Apollo 5 stack, rounds interleaved.
 */
export async function benchRequests(
  stack: BenchStack,
  plan: Plan,
  viewer: BenchUser,
  log: (s: string) => void,
): Promise<Record<Target, RateFigure>> {
  let n = 0;
  // A check that each target answers data, not errors, before it is timed.
  await register(stack.glimpse.url, 'churn', ++n);
  await gql(stack.glimpse.url, viewer.token, ME_QUERY);

  const options: Record<Target, autocannon.Options> = {
    register: {
      url: `${stack.glimpse.url}/graphql`,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: registerBody('churn', ++n) }),
        },
      ],
    },
    me: {
      url: `${stack.glimpse.url}/graphql`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
      body: JSON.stringify({ query: ME_QUERY }),
    },
    bareQuery: {
      url: `${stack.bareApollo.url}/graphql`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello }' }),
    },
  };
  const once = async (t: Target, seconds: number) => {
    const r = await autocannon({ ...options[t], connections: plan.requests.connections, duration: seconds });
    if (r.errors || r.timeouts || r.non2xx)
      throw new Error(`${t}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx answers`);
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
  };
  if (plan.warmup) for (const t of TARGETS) await once(t, 1);
  const samples: Record<Target, RateFigure['samples']> = { register: [], me: [], bareQuery: [] };
  for (let round = 0; round < plan.requests.rounds; round++) {
    for (const t of rotate(TARGETS, round)) samples[t].push(await once(t, plan.requests.seconds));
  }
  // Spot check after the load: register still answers a user, not an error.
  await register(stack.glimpse.url, 'churn', ++n);
  const out = {} as Record<Target, RateFigure>;
  for (const t of TARGETS) {
    const s = samples[t];
    out[t] = { rps: median(s.map((x) => x.rps)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), samples: s };
    log(`${t}: ${out[t].rps.toFixed(0)} req/s, p50 ${out[t].p50} ms, p99 ${out[t].p99} ms`);
  }
  return out;
}
