import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { buildSchema, DocumentNode, FragmentDefinitionNode, Kind, OperationDefinitionNode, parse, validate } from 'graphql';
import ts from 'typescript';
import { FIGURES_END, FIGURES_START, replaceFigures } from '../../bench/performance-doc';
import { variablesConfigReads } from '../support/config-variables';

/**
 * The documentation is kept true where a test can check it: every GraphQL example validates
 * against schema.graphql and every operation has one, every variable src/config.ts reads is
 * documented, links and file paths lead somewhere, and nothing points outside the repository.
 */
const ROOT = path.resolve(__dirname, '../../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const DOCS = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The fenced blocks of one language in a Markdown text, with the line each starts on. */
function codeBlocks(markdown: string, lang: string): { code: string; line: number }[] {
  const blocks: { code: string; line: number }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== `\`\`\`${lang}`) continue;
    const start = i + 1;
    do i++;
    while (i < lines.length && lines[i].trim() !== '```');
    blocks.push({ code: lines.slice(start, i).join('\n'), line: start });
  }
  return blocks;
}

const EXECUTABLE = new Set<string>([Kind.OPERATION_DEFINITION, Kind.FRAGMENT_DEFINITION]);
const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

interface Example {
  where: string;
  operation: OperationDefinitionNode;
  document: DocumentNode;
}

/** Every operation in the ```graphql blocks of `files`, each a document of its own with its block's fragments. */
function graphqlExamples(files: string[]): Example[] {
  const examples: Example[] = [];
  for (const file of files) {
    for (const block of codeBlocks(read(file), 'graphql')) {
      const where = `${file}:${block.line}`;
      let document: DocumentNode;
      try {
        document = parse(block.code);
      } catch (e) {
        throw new Error(`${where}: the GraphQL example does not parse: ${(e as Error).message}`);
      }
      const kinds = document.definitions.map((d) => EXECUTABLE.has(d.kind));
      // A block of type definitions (SDL) is not an example request.
      if (kinds.every((k) => !k)) continue;
      if (!kinds.every((k) => k)) throw new Error(`${where}: a block mixes type definitions with operations; split it`);
      const fragments = document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
      for (const d of document.definitions) {
        if (d.kind === Kind.OPERATION_DEFINITION)
          examples.push({ where, operation: d, document: { kind: Kind.DOCUMENT, definitions: [d, ...fragments] } });
      }
    }
  }
  return examples;
}

describe('documentation', () => {
  describe('GraphQL examples', () => {
    const schema = buildSchema(read('schema.graphql'));
    let examples: Example[];
    before(() => {
      examples = graphqlExamples(DOCS);
    });

    it('finds the examples (sanity check of the finder)', () => {
      expect(examples.length).to.be.greaterThan(20);
    });

    it('every ```graphql example in README.md and docs/ validates against schema.graphql', () => {
      const problems = examples.flatMap(({ where, document }) => validate(schema, document).map((e) => `${where}: ${e.message}`));
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('docs/api.md has an example of every query, mutation and subscription in schema.graphql', () => {
      const used = new Set<string>();
      for (const { where, operation } of examples) {
        if (!where.startsWith('docs/api.md')) continue;
        const root = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' }[operation.operation];
        for (const s of operation.selectionSet.selections) if (s.kind === Kind.FIELD) used.add(`${root}.${s.name.value}`);
      }
      const missing: string[] = [];
      for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
        for (const field of Object.keys(type?.getFields() ?? {}))
          if (!used.has(`${type!.name}.${field}`)) missing.push(`${type!.name}.${field}`);
      }
      expect(missing, `operations with no example in docs/api.md: ${missing.join(', ')}`).to.deep.equal([]);
    });
  });

  describe('configuration', () => {
    let variables: string[];
    before(() => {
      variables = variablesInConfigSource();
    });

    it('finds the variables src/config.ts reads by scanning its source (sanity check of the finder)', () => {
      expect(variables).to.include.members([
        'PORT',
        'DATABASE_URL',
        'S3_ENDPOINT',
        'GETUI_MASTER_SECRET',
        'RATE_LIMIT_SEND_USER',
        'ALIYUN_SMS_TIMEOUT_MS',
      ]);
    });

    it('the source scan finds every variable loadConfig reads when every option is on', () => {
      const read = variablesConfigReads();
      expect(read.length).to.be.greaterThan(40);
      expect(read.filter((n) => !variables.includes(n))).to.deep.equal([]);
    });

    it('docs/configuration.md documents every variable src/config.ts reads', () => {
      const doc = read('docs/configuration.md');
      const missing = variables.filter((name) => !doc.includes(`\`${name}\``));
      expect(missing, `missing from docs/configuration.md: ${missing.join(', ')}`).to.deep.equal([]);
    });
  });

  describe('links and paths', () => {
    const files = [...DOCS, 'SECURITY.md', 'bench/README.md'].filter((f) => fs.existsSync(path.join(ROOT, f)));

    it('every relative link leads to a file, and every #anchor to a heading', () => {
      const problems: string[] = [];
      for (const file of files) {
        for (const [, target] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:/i.test(target)) continue;
          const [linkPath, anchor] = target.split('#');
          const resolved = linkPath ? path.join(path.dirname(file), linkPath) : file;
          if (!fs.existsSync(path.join(ROOT, resolved))) problems.push(`${file}: ${target} (no file ${resolved})`);
          else if (anchor && resolved.endsWith('.md') && !headingSlugs(read(resolved)).has(anchor))
            problems.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
        }
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('every file path the documentation names in `src/`, `test/`, `bench/` or `docs/` exists', () => {
      const problems: string[] = [];
      for (const file of files) {
        for (const [, named] of read(file).matchAll(/`((?:src|test|bench|docs)\/[A-Za-z0-9_.\-/]*)`/g)) {
          if (named.startsWith('bench/out/')) continue; // written by the bench, not committed
          if (!fs.existsSync(path.join(ROOT, named))) problems.push(`${file}: ${named}`);
        }
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('nothing in the repository points to the team workspace outside it', () => {
      // Built from pieces, so that this file does not name them itself.
      const needles = ['../' + 'shared', 'DESIGN' + '.md'];
      const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
      expect(listed.status, listed.stderr).to.equal(0);
      const hits: string[] = [];
      for (const file of listed.stdout.split('\n').filter(Boolean)) {
        const full = path.join(ROOT, file);
        if (!fs.existsSync(full) || !/\.(ts|js|mjs|json|md|yml|yaml|graphql|sh)$|^(Dockerfile|\.env\.example|\.ci\/run)$/.test(file))
          continue;
        const text = fs.readFileSync(full, 'utf8');
        for (const needle of needles) if (text.includes(needle)) hits.push(`${file}: ${needle}`);
      }
      expect(hits, hits.join('\n')).to.deep.equal([]);
    });
  });

  describe('docs/performance.md', () => {
    it('has the bench:report markers once each, and a rewrite keeps the prose around them', () => {
      const doc = read('docs/performance.md');
      const rewritten = replaceFigures(doc, 'new figures');
      const [before] = doc.split(FIGURES_START);
      const [, after] = doc.split(FIGURES_END);
      expect(rewritten.startsWith(before + FIGURES_START)).to.equal(true);
      expect(rewritten.endsWith(FIGURES_END + after)).to.equal(true);
      expect(rewritten).to.contain('\nnew figures\n');
      expect(replaceFigures(rewritten, 'new figures')).to.equal(rewritten);
    });

    it('refuses a document without its markers rather than append the figures anywhere', () => {
      expect(() => replaceFigures('# Performance\n', 'figures')).to.throw(/markers/);
      expect(() => replaceFigures(`${FIGURES_END}\n${FIGURES_START}\n`, 'figures')).to.throw(/markers/);
    });
  });
});

/**
 * The variables src/config.ts and its sections in src/config/ name: every string literal shaped
 * like an environment variable (the helpers take names as literals: `r.int('PORT', …)`,
 * `{ env: 'RATE_LIMIT_…' }`, lists of required names) and every `env.NAME` or `env['NAME']` access.
 */
function variablesInConfigSource(): string[] {
  const folder = path.join(ROOT, 'src', 'config');
  const files = [
    path.join(ROOT, 'src', 'config.ts'),
    ...fs
      .readdirSync(folder)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(folder, f)),
  ];
  const names = new Set<string>();
  for (const file of files) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && ENV_NAME.test(node.text)) names.add(node.text);
      if (ts.isPropertyAccessExpression(node) && /\benv$/.test(node.expression.getText(source)) && ENV_NAME.test(node.name.text))
        names.add(node.name.text);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return [...names].sort();
}

/** The #anchors GitHub gives a Markdown file's headings. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const counts = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    slugs.add(n ? `${base}-${n}` : base);
  }
  return slugs;
}
