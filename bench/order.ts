/** Orders of interleaved rounds: which variant runs when, so that drift and carry-over fall fairly. */

/**
 * The round's order: rotated, except that `pair` (encryption on and off) always runs back to
 * back, first one then the other in turns, so that each round's ratio of the two is fair.
 */
export function roundOrder<T>(xs: T[], by: number, pair: [T, T]): T[] {
  const rest = xs.filter((x) => !pair.includes(x));
  const groups: T[][] = [by % 2 === 0 ? pair : [pair[1], pair[0]], ...rest.map((x) => [x])];
  return rotate(groups, by).flat();
}

/** `xs` rotated left by `by`. */
export function rotate<T>(xs: T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/**
 * The `k`th order of a Williams square over `xs`: over `xs.length` consecutive `k` (an even
 * length), every item comes first equally often and follows every other item exactly once. A
 * plain rotation always puts the same process after the same one, so whatever one leaves behind
 * (the tracing process's last export, say) always fell on the same next one.
 */
export function balancedOrder<T>(xs: T[], k: number): T[] {
  const n = xs.length;
  // The first row is 0, 1, n-1, 2, n-2, ...; row k adds k to each.
  const first = Array.from({ length: n }, (_, j) => (j % 2 ? (j + 1) / 2 : (n - j / 2) % n));
  return first.map((j) => xs[(j + k) % n]);
}
