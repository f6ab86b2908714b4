import autocannon from 'autocannon';
import mysql from 'mysql2/promise';
import { BenchUser, CHURN_PHONES, gql, ME_QUERY, register, registerBody } from './glimpse-api';
import { median } from './http';
import type { Plan } from './plan';
import type { BenchStack } from './stack';
import { balancedOrder } from './order';

export interface RateFigure {
  /** Requests per second (median over rounds). */
  rps: number;
  /** Latency in ms, each the median over rounds. */
  p50: number;
  p99: number;
  samples: { rps: number; p50: number; p99: number }[];
}

export type RequestTarget = 'register' | 'registerMove' | 'me' | 'bareQuery';
const TARGETS: RequestTarget[] = ['register', 'registerMove', 'me', 'bareQuery'];

/**
 * Request rates with autocannon at 32 connections, rounds interleaved in balanced orders (four
 * rounds: each target first once, and after each other target once):
 *   - register: a sign-up, a number the server has never seen (every request inserts a user).
 *     The bench has a few thousand test numbers (SMS_TEST_NUMBERS), so before each round it
 *     deletes the users of its `churn` numbers with SQL, and a round makes a fixed number of
 *     requests rather than running for a fixed time;
 *   - registerMove: a known number registering on a new device, which moves the account
 *     (issue 20's registration lock and move: the row locked, pending images ended, the old
 *     device told). Every churn number exists before such a round;
 *   - me: an authenticated read;
 *   - the bare Apollo server's trivial query on the same express 5 + Apollo 5 stack.
 */
export async function benchRequests(
  stack: BenchStack,
  plan: Plan,
  viewer: BenchUser,
  log: (s: string) => void,
): Promise<Record<RequestTarget, RateFigure>> {
  const { newRegistrations, connections, seconds } = plan.requests;
  if (newRegistrations > CHURN_PHONES) throw new Error(`requests.newRegistrations: at most ${CHURN_PHONES} (the churn numbers)`);
  const db = await mysql.createConnection({ uri: stack.glimpse.databaseUrl });
  try {
    // The n-th churn number of a round; numbers before `registered` have a user.
    let n = 0;
    let registered = 0;
    const forgetChurnUsers = async () => {
      await db.query("DELETE FROM `user` WHERE cid LIKE 'bench-churn-%'");
      registered = 0;
    };
    /** register calls at autocannon's pace, the churn number of each from `next`. */
    const registering = (next: () => number): autocannon.Options => ({
      url: `${stack.glimpse.url}/graphql`,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: registerBody('churn', next()) }),
        },
      ],
    });
    /** Registers every churn number without a user yet, untimed: the next round only moves accounts. */
    const registerAll = async () => {
      if (registered >= CHURN_PHONES) return;
      let next = registered;
      const r = await autocannon({ ...registering(() => next++), connections, amount: CHURN_PHONES - registered });
      if (r.errors || r.timeouts || r.non2xx)
        throw new Error(`registering the churn numbers: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
      registered = CHURN_PHONES;
    };
    // A check that each target answers data, not errors, before it is timed.
    await forgetChurnUsers();
    await register(stack.glimpse.url, 'churn', 0);
    await gql(stack.glimpse.url, viewer.token, ME_QUERY);

    const options: Record<RequestTarget, autocannon.Options> = {
      register: { ...registering(() => n++), amount: newRegistrations },
      registerMove: registering(() => n++),
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
    const once = async (t: RequestTarget, duration: number) => {
      if (t === 'register') {
        await forgetChurnUsers();
        n = 0;
      } else if (t === 'registerMove') {
        await registerAll();
        n = 0;
      }
      const r = await autocannon({ ...options[t], connections, duration });
      if (r.errors || r.timeouts || r.non2xx)
        throw new Error(`${t}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx answers`);
      if (t === 'register') {
        if (r.requests.total !== newRegistrations)
          throw new Error(`register: ${r.requests.total} of ${newRegistrations} requests answered`);
        registered = newRegistrations;
      }
      // A round of `register` ends after its requests, not after `duration`.
      return { rps: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99 };
    };
    if (plan.warmup) for (const t of TARGETS) await once(t, 1);
    const samples: Record<RequestTarget, RateFigure['samples']> = { register: [], registerMove: [], me: [], bareQuery: [] };
    for (let round = 0; round < plan.requests.rounds; round++) {
      for (const t of balancedOrder(TARGETS, round)) samples[t].push(await once(t, seconds));
    }
    // Spot check after the load: register still answers a user, not an error.
    await register(stack.glimpse.url, 'churn', 0);
    const out = {} as Record<RequestTarget, RateFigure>;
    for (const t of TARGETS) {
      const s = samples[t];
      out[t] = { rps: median(s.map((x) => x.rps)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), samples: s };
      log(`${t}: ${out[t].rps.toFixed(0)} req/s, p50 ${out[t].p50} ms, p99 ${out[t].p99} ms`);
    }
    return out;
  } finally {
    await db.end();
  }
}
