/**
 * Imported first by main.ts: on an older Node the server would fail later and less clearly
 * (file-type and the cryptography it relies on need Node 24), so it refuses at once.
 */
export const MIN_NODE_MAJOR = 24;

/** The refusal for a Node version string such as `v20.20.2`, or null when it is new enough. */
export function nodeVersionProblem(version: string): string | null {
  const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
  if (major >= MIN_NODE_MAJOR) return null;
  return `Glimpse needs Node ${MIN_NODE_MAJOR} or newer (LTS); this is Node ${version.replace(/^v/, '')}. Install Node ${MIN_NODE_MAJOR} (see .nvmrc) and start again.`;
}

const problem = nodeVersionProblem(process.version);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(2);
}
