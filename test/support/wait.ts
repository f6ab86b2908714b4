/** Retries an assertion until it holds or `ms` pass; the last failure is what the test reports. */
export async function eventually(check: () => Promise<unknown> | unknown, ms = 3000, every = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}
