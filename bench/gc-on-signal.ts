/**
 * Preloaded (`node --expose-gc -r`) into a Glimpse process the bench measures: SIGUSR2 runs two
 * full collections, so that RSS read afterwards holds what is live, not garbage waiting for V8.
 */
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
});
