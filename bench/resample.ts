/**
 * 2.5th and 97.5th percentiles of `estimate` over 2,000 resamplings of whole groups (seeded: a
 * run's report is reproducible). A group is what one set of fresh processes measured: its rounds
 * are not independent of each other, so groups, not rounds, are resampled.
 */
export function groupBootstrap<T>(groups: T[][], estimate: (groups: T[][]) => number): [number, number] {
  let seed = 0x9e3779b9;
  const random = () => {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const estimates: number[] = [];
  for (let b = 0; b < 2000; b++) estimates.push(estimate(groups.map(() => groups[Math.floor(random() * groups.length)])));
  estimates.sort((a, b) => a - b);
  return [estimates[Math.floor(0.025 * estimates.length)], estimates[Math.ceil(0.975 * estimates.length) - 1]];
}
