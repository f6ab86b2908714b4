import fs from 'node:fs';
import path from 'node:path';
import { checkGoals, renderTables, Results } from './report';

/**
 * `npm run bench:report [results.json] [doc.md]`: writes the figures of a bench run into
 * docs/performance.md, between two markers, with the bench's own renderer (report.ts). The prose
 * around the markers is left as it is. Defaults: bench/out/results.json (where `npm run bench`
 * writes) and docs/performance.md. A BENCH_QUICK run is refused unless --allow-quick is given:
 * its figures are a smoke test, not a measurement.
 */

export const FIGURES_START = '<!-- bench:report:start (npm run bench:report writes everything up to the end marker) -->';
export const FIGURES_END = '<!-- bench:report:end -->';

const ROOT = path.resolve(__dirname, '..', '..');

/** `doc` with what stands between the markers replaced by `figures`; throws unless each marker occurs once, in order. */
export function replaceFigures(doc: string, figures: string): string {
  const start = doc.indexOf(FIGURES_START);
  const end = doc.indexOf(FIGURES_END);
  const once = (marker: string, at: number) => at >= 0 && doc.indexOf(marker, at + marker.length) < 0;
  if (!once(FIGURES_START, start) || !once(FIGURES_END, end) || end < start) {
    throw new Error(`the document needs the markers ${FIGURES_START} and ${FIGURES_END}, once each and in that order`);
  }
  return `${doc.slice(0, start + FIGURES_START.length)}\n\n${figures.trim()}\n\n${doc.slice(end)}`;
}

/** The figures of one run as the document shows them. */
export function figuresOf(results: Results): string {
  // Goals are checked anew against the run's figures: a goal added since the run is shown too.
  return renderTables({ ...results, goals: checkGoals(results) });
}

function main(argv: string[]): void {
  const allowQuick = argv.includes('--allow-quick');
  const [resultsArg, docArg] = argv.filter((a) => a !== '--allow-quick');
  const resultsFile = path.resolve(resultsArg ?? path.join(ROOT, 'bench', 'out', 'results.json'));
  const docFile = path.resolve(docArg ?? path.join(ROOT, 'docs', 'performance.md'));
  if (!fs.existsSync(resultsFile)) {
    throw new Error(`no results at ${resultsFile}: run \`npm run bench\` first, or name a results file`);
  }
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as Results;
  if (results.quick && !allowQuick) {
    throw new Error(`${resultsFile} is from BENCH_QUICK=1 (a smoke test); run the full bench, or pass --allow-quick`);
  }
  fs.writeFileSync(docFile, replaceFigures(fs.readFileSync(docFile, 'utf8'), figuresOf(results)));
  process.stderr.write(`wrote the figures of ${path.relative(process.cwd(), resultsFile)} into ${path.relative(process.cwd(), docFile)}\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench:report: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
