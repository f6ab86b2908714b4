import { createHash, randomInt } from 'node:crypto';

/**
 * Seeded randomness for tests that draw their inputs: one seed per run (TEST_SEED, or a fresh
 * one), printed by every suite that uses it, so that a failure can be run again exactly.
 */
const fromEnv = process.env.TEST_SEED;
if (fromEnv !== undefined && !/^\d+$/.test(fromEnv)) throw new Error(`TEST_SEED must be a whole number, not ${JSON.stringify(fromEnv)}`);
export const TEST_SEED = fromEnv !== undefined ? Number(fromEnv) % 2 ** 32 : randomInt(2 ** 32);

/** A deterministic source of test inputs. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** A whole number in [min, max]. */
  int(min: number, max: number): number;
  /** `n` bytes. */
  bytes(n: number): Buffer;
  pick<T>(list: readonly T[]): T;
}

/** sfc32, seeded through SHA-256 of the run's seed and the stream's name. */
export function rngFor(seed: number, stream: string): Rng {
  const words = createHash('sha256').update(`${seed}:${stream}`).digest();
  let [a, b, c, d] = [0, 4, 8, 12].map((i) => words.readUInt32LE(i));
  let blocks = 0;
  const next32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32();
  const next = () => next32() / 2 ** 32;
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    // SHAKE256 as an extendable output: long inputs at native speed, still fixed by the seed.
    bytes: (n) => createHash('shake256', { outputLength: n }).update(`${seed}:${stream}:${blocks++}:${next32()}`).digest(),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

/**
 * Call inside a `describe`: prints the run's seed before the suite's tests and answers the
 * current test's generator, a stream of its own named by its full title (the same draws
 * whichever other tests run, or in what order).
 */
export function useSeed(): () => Rng {
  let current: Rng | undefined;
  before(() => console.log(`      seed=${TEST_SEED} (TEST_SEED=${TEST_SEED} to repeat)`));
  beforeEach(function () {
    current = rngFor(TEST_SEED, this.currentTest!.fullTitle());
  });
  afterEach(() => {
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('useSeed(): draw inside a test');
    return current;
  };
}
