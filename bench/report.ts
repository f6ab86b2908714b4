import type { ObservabilityFigure, OnOffRatio } from './metrics.bench';
import type { LatencyFigure } from './images.bench';
import type { OnOffFigure } from './encryption.bench';
import type { GcResults } from './gc.bench';
import type { MemoryFigure } from './memory.bench';
import { median } from './http';
import { MiB } from './plan';
import type { RealtimeResults } from './realtime.bench';
import type { RateFigure, RequestTarget } from './requests.bench';
import type { DiscoveryFigure, SocialResults } from './social.bench';
import type { ThroughputCell } from './upload.bench';

export interface Goal {
  goal: string;
  value: number;
  target: string;
  met: boolean;
}

export interface Results {
  commit: string;
  dirty: boolean;
  date: string;
  quick: boolean;
  machine: { cores: number; cpu: string; node: string; loadavgStart: number[]; loadavgEnd: number[] };
  rounds: number;
  seconds: number;
  /** Wall time of each section, for keeping BENCH_QUICK under a minute. */
  sectionSeconds: Record<string, number>;
  upload?: (ThroughputCell & { ratios: Record<string, number> })[];
  download?: (ThroughputCell & { ratios: Record<string, number> })[];
  memory?: { declared: MemoryFigure; undeclared: MemoryFigure };
  /** Issue 10: sendImage and download with encryption at rest on and off, back to back. */
  encryption?: { send: OnOffFigure[]; download: OnOffFigure[] };
  /** Issue 10: one large upload on fresh servers with encryption at rest on and off. */
  encryptionMemory?: { encrypted: MemoryFigure; plain: MemoryFigure; differenceMiB: number };
  /** main.ts's heap tuning against V8's default growth, on fresh processes. */
  gc?: GcResults;
  requests?: Record<RequestTarget, RateFigure> & { ratios: Record<string, number> };
  images?: { small: LatencyFigure; large: LatencyFigure; ratio: number };
  social?: SocialResults;
  /** Issue 25: metrics and tracing against neither, on four processes of one build (one a twin of off: the A/A control). */
  metrics?: ObservabilityFigure;
  /** Subscriptions: commit-to-event latency, and idle connections' memory and fan-out. */
  realtime?: RealtimeResults;
  goals: Goal[];
}

/**
 * a ÷ b from rounds where the two ran back to back, `a` first in even rounds and `b` first in
 * odd ones (bench/upload.bench.ts roundOrder): a pair shares that moment's load, so its ratio
 * moves far less than either figure. Whichever runs first can be systematically slower (a full
 * run showed 0.7-0.8 one way round and 1.0-1.2 the other), so the two orders are summarised
 * apart and combined with a geometric mean, which cancels that effect (a crossover design).
 */
export function pairedRatio(a: number[], b: number[]): number {
  const ratios = a.map((x, i) => x / b[i]);
  const aFirst = median(ratios.filter((_, i) => i % 2 === 0));
  const bFirst = median(ratios.filter((_, i) => i % 2 === 1));
  return Number.isFinite(bFirst) ? Math.sqrt(aFirst * bFirst) : aFirst;
}

export function withUploadRatios(cell: ThroughputCell) {
  const m = cell.mibps;
  return {
    ...cell,
    ratios: {
      'sendImage/direct': m.sendImage / m.direct,
      'sendImage/bare': m.sendImage / m.bare,
      'sendImage/rawPut': m.sendImage / m.rawPut,
      'sendImage/sendImagePlain': pairedRatio(cell.samples.sendImage, cell.samples.sendImagePlain),
    },
  };
}

export function withDownloadRatios(cell: ThroughputCell) {
  const m = cell.mibps;
  return {
    ...cell,
    ratios: {
      'downloadUrl/direct': m.downloadUrl / m.direct,
      'downloadUrl/rawGet': m.downloadUrl / m.rawGet,
      'downloadUrl/downloadUrlPlain': pairedRatio(cell.samples.downloadUrl, cell.samples.downloadUrlPlain),
    },
  };
}

export function requestRatios(r: Record<RequestTarget, RateFigure>) {
  return {
    'register/bareQuery': r.register.rps / r.bareQuery.rps,
    'registerMove/bareQuery': r.registerMove.rps / r.bareQuery.rps,
    'me/bareQuery': r.me.rps / r.bareQuery.rps,
    'register p99/p50': r.register.p99 / r.register.p50,
    'me p99/p50': r.me.p99 / r.me.p50,
  };
}

/** The issue's goals, checked against one run's ratios. */
export function checkGoals(r: Results): Goal[] {
  const goals: Goal[] = [];
  const add = (goal: string, value: number, op: '>=' | '<=', bound: number) =>
    goals.push({ goal, value: round(value, 3), target: `${op} ${bound}`, met: op === '>=' ? value >= bound : value <= bound });
  for (const c of r.upload ?? []) {
    add(`upload ${cellName(c)}: sendImage ÷ direct putObject`, c.ratios['sendImage/direct'], '>=', 0.9);
    add(`upload ${cellName(c)}: sendImage ÷ bare handler`, c.ratios['sendImage/bare'], '>=', 0.97);
  }
  for (const c of r.download ?? [])
    add(`download ${cellName(c)}: downloadUrl ÷ direct getObject`, c.ratios['downloadUrl/direct'], '>=', 0.9);
  // Encryption at rest (issue 10): throughput against the same build with ENCRYPTION=off, one client at a time.
  for (const f of r.encryption?.send ?? []) add(`sendImage ${f.size / MiB} MiB: encrypted ÷ ENCRYPTION=off`, f.ratio, '>=', 0.95);
  for (const f of r.encryption?.download ?? []) add(`download ${f.size / MiB} MiB: decrypted ÷ ENCRYPTION=off`, f.ratio, '>=', 0.95);
  if (r.memory) {
    for (const mode of ['declared', 'undeclared'] as const) {
      const m = r.memory[mode];
      add(`${m.bytes / MiB} MiB upload, size ${mode}: RSS growth (MiB)`, m.growthMiB, '<=', 32);
    }
  }
  if (r.encryptionMemory) {
    const e = r.encryptionMemory;
    add(
      `${e.encrypted.bytes / MiB} MiB upload on a fresh server: |peak RSS encrypted − ENCRYPTION=off| (MiB)`,
      Math.abs(e.differenceMiB),
      '<=',
      8,
    );
  }
  if (r.requests) {
    add('register ÷ bare Apollo query (req/s)', r.requests.ratios['register/bareQuery'], '>=', 0.4);
    add('register p99 ÷ p50', r.requests.ratios['register p99/p50'], '<=', 3);
  }
  // The fixed cost of a small request (issue 26): 1 MiB is the common image.
  for (const c of r.upload ?? [])
    if (c.size === MiB && (c.clients === 1 || c.clients === 16))
      add(
        `fixed cost: upload ${cellName(c)}: sendImage ÷ direct putObject`,
        c.ratios['sendImage/direct'],
        '>=',
        c.clients === 1 ? 0.75 : 0.8,
      );
  for (const c of r.download ?? [])
    if (c.size === MiB)
      add(`fixed cost: download ${cellName(c)}: downloadUrl ÷ direct getObject`, c.ratios['downloadUrl/direct'], '>=', 0.75);
  if (r.requests) {
    add('fixed cost: me ÷ bare Apollo query (req/s)', r.requests.ratios['me/bareQuery'], '>=', 0.5);
    add('fixed cost: register ÷ bare Apollo query (req/s)', r.requests.ratios['register/bareQuery'], '>=', 0.25);
  }
  if (r.images) add(`images p50 at ${r.images.large.rows} rows ÷ at ${r.images.small.rows}`, r.images.ratio, '<=', 1.5);
  if (r.social) {
    const d = r.social.discoverContacts;
    add(
      `discoverContacts p50 at ${d.large.users} users ÷ at ${d.small.users} (${mib(d.bufferPool.usedBytes)} MiB buffer pool)`,
      d.ratio,
      '<=',
      1.5,
    );
    const g = r.social.sendGroupImage;
    add(`sendGroupImage ${g.bytes / MiB} MiB to ${g.members} members ÷ one sendImage (p50)`, g.ratio, '<=', 1.3);
  }
  if (r.metrics) {
    add('sendImage 1 MiB: metrics on ÷ off (throughput)', r.metrics.sendImage.wall.metrics.value, '>=', 0.98);
    add('me: metrics on ÷ off (req/s)', r.metrics.me.wall.metrics.value, '>=', 0.98);
  }
  if (r.realtime) {
    const t = r.realtime;
    add('event latency p99, one instance (ms)', t.sameInstance.p99, '<=', 50);
    add('event latency p99, two instances with Redis (ms)', t.acrossRedis.p99, '<=', 50);
    add(`event latency p99, two instances without Redis (ms; 2 × REALTIME_POLL_MS)`, t.acrossPoll.p99, '<=', 2 * t.acrossPoll.pollMs);
    add(`${t.idle.connections} idle subscribers: RSS per connection (KiB)`, t.idle.bytesPerConnection / 1024, '<=', 32);
    add(`one event to ${t.idle.fanout.subscribers} subscribers at once: p99 (ms)`, t.idle.fanout.p99, '<=', 250);
  }
  return goals;
}

export function cellName(c: { size: number; clients: number }): string {
  return `${c.size / MiB} MiB × ${c.clients}`;
}

/** The run as Markdown tables (printed, and written into docs/performance.md by bench/performance-doc.ts). */
export function renderTables(r: Results): string {
  const out: string[] = [];
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const table = (head: string[], rows: (string | number)[][]) => {
    out.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const row of rows) out.push(`| ${row.join(' | ')} |`);
    out.push('');
  };
  out.push(
    `Commit ${r.commit}${r.dirty ? ' (with uncommitted changes)' : ''}, ${r.date}, ${r.quick ? 'BENCH_QUICK (small version), ' : ''}` +
      `${r.machine.cores} cores (${r.machine.cpu}), Node ${r.machine.node}, load average ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')} at start; ` +
      `medians of ${r.rounds} interleaved rounds; ${f(r.seconds, 0)} s in all.`,
    '',
  );
  if (r.upload) {
    out.push('Upload throughput, MiB/s (clients × uploads each per round):', '');
    table(
      [
        'size × clients',
        'sendImage',
        'ENCRYPTION=off',
        'direct putObject',
        'raw PUT',
        'bare busboy→minio',
        '÷ off',
        '÷ direct',
        '÷ bare',
        '÷ raw PUT',
      ],
      r.upload.map((c) => [
        `${cellName(c)} (×${c.perClient})`,
        f(c.mibps.sendImage),
        f(c.mibps.sendImagePlain),
        f(c.mibps.direct),
        f(c.mibps.rawPut),
        f(c.mibps.bare),
        f(c.ratios['sendImage/sendImagePlain'], 2),
        f(c.ratios['sendImage/direct'], 2),
        f(c.ratios['sendImage/bare'], 2),
        f(c.ratios['sendImage/rawPut'], 2),
      ]),
    );
  }
  if (r.download) {
    out.push('Download throughput, MiB/s:', '');
    table(
      ['size × clients', 'downloadUrl', 'ENCRYPTION=off', 'direct getObject', 'raw GET', '÷ off', '÷ direct', '÷ raw GET'],
      r.download.map((c) => [
        `${cellName(c)} (×${c.perClient})`,
        f(c.mibps.downloadUrl),
        f(c.mibps.downloadUrlPlain),
        f(c.mibps.direct),
        f(c.mibps.rawGet),
        f(c.ratios['downloadUrl/downloadUrlPlain'], 2),
        f(c.ratios['downloadUrl/direct'], 2),
        f(c.ratios['downloadUrl/rawGet'], 2),
      ]),
    );
  }
  if (r.memory) {
    out.push('Server RSS while one large upload streams, MiB:', '');
    table(
      ['upload', 'idle', 'peak', 'growth'],
      [
        ...(['declared', 'undeclared'] as const).map((mode) => ({ name: `size ${mode}`, m: r.memory![mode] })),
        ...(r.encryptionMemory
          ? [
              { name: 'size declared, fresh server, encrypted', m: r.encryptionMemory.encrypted },
              { name: 'size declared, fresh server, ENCRYPTION=off', m: r.encryptionMemory.plain },
            ]
          : []),
      ].map(({ name, m }) => [`${m.bytes / MiB} MiB, ${name}`, f(m.idleMiB), f(m.peakMiB), f(m.growthMiB)]),
    );
  }
  if (r.requests) {
    const q = r.requests;
    out.push('Request rates at 32 connections (autocannon):', '');
    table(
      ['request', 'req/s', 'p50 ms', 'p99 ms', 'p99 ÷ p50', '÷ bare query'],
      (['register', 'registerMove', 'me', 'bareQuery'] as const).map((t) => [
        { register: 'register, a new number', registerMove: 'register, an account move', me: 'me', bareQuery: 'bare Apollo `{ hello }`' }[
          t
        ],
        f(q[t].rps, 0),
        f(q[t].p50, 0),
        f(q[t].p99, 0),
        f(q[t].p99 / q[t].p50, 2),
        t === 'bareQuery' ? '' : f(q[t].rps / q.bareQuery.rps, 2),
      ]),
    );
  }
  if (r.encryption) {
    out.push(
      "Encryption at rest against the same build with `ENCRYPTION=off`, one client, ms per operation (medians over rounds). On ÷ off is throughput: the median of the rounds' ratios, sends across the two instances of each pair, downloads (sealed against plain images) inside each instance; then its 95 % interval, resampling pairs, and the ratio on each pair alone:",
      '',
    );
    const spread = (xs: number[]) => (xs.length ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}` : '');
    const interval = (x: OnOffFigure) => (x.interval ? `${x.interval[0].toFixed(2)}–${x.interval[1].toFixed(2)}` : '');
    table(
      ['operation', 'encrypted', 'ENCRYPTION=off', 'on ÷ off', '95 %', 'per server pair'],
      [
        ...r.encryption.send.map((x) => [
          `sendImage ${x.size / MiB} MiB (×${x.perSample}; ${x.pairs} pairs × ${x.roundsPerPair} rounds)`,
          f(x.onMs, 2),
          f(x.offMs, 2),
          f(x.ratio, 3),
          interval(x),
          spread(x.pairRatios),
        ]),
        ...r.encryption.download.map((x) => [
          `download ${x.size / MiB} MiB (×${x.perSample * (x.downloadsPerImage ?? 1)})`,
          f(x.onMs, 2),
          f(x.offMs, 2),
          f(x.ratio, 3),
          interval(x),
          spread(x.pairRatios),
        ]),
      ],
    );
  }
  if (r.gc) {
    const g = r.gc;
    out.push(
      `Heap tuning (main.ts, \`--heap-growing-percent=100\`) against V8's default growth: pairs of fresh processes worked in turn, ` +
        `${g.warmupRounds} round untimed, then ${g.rounds} measured (a round: ${g.imagesPerRound} sends of 1 MiB through each, ${g.downloadsPerImage} downloads of each image); medians over the processes:`,
      '',
    );
    table(
      ['heap growth', 'full collections per process', 'per 100 images', 'CPU per image, ms', 'wall per image, ms'],
      (
        [
          ['fixed factor 2 (main.ts)', g.tuned],
          ["V8's default", g.v8Default],
        ] as const
      ).map(([name, v]) => [
        name,
        v.samples.map((s) => s.fullCollections).join(', '),
        f(v.fullCollectionsPer100, 1),
        f(v.cpuMs, 2),
        f(v.wallMs, 2),
      ]),
    );
    out.push(`CPU ratio ${f(g.cpuRatio, 2)}`, '');
  }
  if (r.images) {
    out.push('`images` latency, one request at a time, ms:', '');
    table(
      ['messages in the table', 'p50', 'p99'],
      [r.images.small, r.images.large].map((x) => [String(x.rows), f(x.p50, 2), f(x.p99, 2)]),
    );
    out.push(`p50 ratio ${f(r.images.ratio, 2)}`, '');
  }
  if (r.social) {
    const d = r.social.discoverContacts;
    const row = (label: string, x: DiscoveryFigure, pool: number) => [
      label,
      String(x.users),
      `${mib(pool)} MiB`,
      f(x.p50, 2),
      f(x.p90, 2),
      f(x.diskReadsPerCall, 1),
      String(x.found),
    ];
    out.push(`\`discoverContacts\` with ${d.hashes} hashes (${d.registeredAmongThem} of registered users), one request at a time, ms:`, '');
    table(
      ['server', 'users', 'buffer pool', 'p50', 'p90', 'disk reads per call', 'found'],
      [
        ...(d.at1e4UsersPoolAsFound && d.at1e6UsersPoolAsFound
          ? [
              row('small, pool as found', d.at1e4UsersPoolAsFound, d.bufferPool.foundBytes),
              row('large, pool as found', d.at1e6UsersPoolAsFound, d.bufferPool.foundBytes),
            ]
          : []),
        row('small', d.small, d.bufferPool.usedBytes),
        row('large', d.large, d.bufferPool.usedBytes),
      ],
    );
    out.push(
      `p50 ratio ${f(d.ratio, 2)}${d.ratioPoolAsFound !== undefined ? ` (${f(d.ratioPoolAsFound, 2)} at the pool as found)` : ''}; ` +
        `idx_user_discovery at ${d.index.users} users: ${f(d.index.bytes / MiB, 1)} MiB, ${f(d.index.bytesPerUser, 0)} bytes per user ` +
        `(the user table's indexes: ${Object.entries(d.index.userTableIndexes ?? {})
          .map(([n, b]) => `${n} ${f(b / MiB, 1)} MiB`)
          .join(', ')})`,
      '',
    );
    const g = r.social.sendGroupImage;
    out.push(`Group send against one send of the same ${g.bytes / MiB} MiB, one request at a time, ms:`, '');
    table(
      ['send', 'p50', 'p90', 'runs'],
      [
        ['sendImage to one member', f(g.sendImage.p50, 2), f(g.sendImage.p90, 2), String(g.sendImage.runs)],
        [`sendGroupImage to ${g.members} members`, f(g.sendGroupImage.p50, 2), f(g.sendGroupImage.p90, 2), String(g.sendGroupImage.runs)],
      ],
    );
    out.push(`p50 ratio ${f(g.ratio, 2)}`, '');
  }
  if (r.realtime) {
    const t = r.realtime;
    out.push('Subscriptions: from the outbox commit to the event at the subscriber, one event at a time, ms:', '');
    table(
      ['path', 'events', 'p50', 'p99', 'max'],
      [
        ['one instance', t.sameInstance],
        ['two instances, Redis pub/sub', t.acrossRedis],
        [`two instances, outbox poll every ${t.acrossPoll.pollMs} ms`, t.acrossPoll],
      ].map(([name, x]) => [
        name as string,
        String((x as { samples: number }).samples),
        f((x as { p50: number }).p50, 0),
        f((x as { p99: number }).p99, 0),
        f((x as { max: number }).max, 0),
      ]),
    );
    const i = t.idle;
    out.push(
      `${i.connections} idle subscribers (${i.users} users, one subscription per socket) on one instance: RSS ${f(i.rssBeforeMiB)} → ${f(i.rssAfterMiB)} MiB, ` +
        `${f(i.bytesPerConnection / 1024, 1)} KiB per connection (opened in ${f(i.openSeconds, 1)} s); one event to ${i.fanout.subscribers} of them at once, ` +
        `${i.fanout.events} times: p50 ${f(i.fanout.p50, 0)} ms, p99 ${f(i.fanout.p99, 0)} ms, max ${f(i.fanout.max, 0)} ms.`,
      '',
    );
  }
  if (r.metrics) {
    const m = r.metrics;
    out.push(
      `Metrics and tracing against neither: ${m.sets} fresh sets of four processes, each set on one database, bucket and master key; ` +
        `each set ran ${m.warmupRounds} untimed round then ${m.roundsPerSet} rounds (sendImage 1 MiB one client, ${m.sendsPerRound} per process per round, one at a time in turn; ` +
        `me at ${m.connections} connections, ${m.meSeconds} s per process per round, in turn; the metrics process scraped every ${m.scrapeEveryMs / 1000} s, the tracing one exporting every span). ` +
        'Two of the four have neither (off, and its twin, the A/A control: how far apart two processes configured alike land in this design). ' +
        "Each process's CPU time is the kernel's count over its share of a round. A ratio is throughput on ÷ off, the median of all rounds' ratios, " +
        'with a 95 % interval that resamples whole sets; the last column is the range of the sets’ own ratios:',
      '',
    );
    const ratio = (x: OnOffRatio) => `${f(x.value, 3)} (${f(x.interval[0], 3)}–${f(x.interval[1], 3)})`;
    const spread = (x: OnOffRatio) => `${f(Math.min(...x.sets), 2)}–${f(Math.max(...x.sets), 2)}`;
    const row = (
      label: string,
      per: ObservabilityFigure['me']['wallMs'],
      scale: number,
      digits: number,
      of: ObservabilityFigure['me']['wall'],
    ) => [
      label,
      f(scale / per.off, digits),
      f(scale / per.metrics, digits),
      f(scale / per.tracing, digits),
      ratio(of.control),
      ratio(of.metrics),
      ratio(of.tracing),
      spread(of.metrics),
    ];
    table(
      [
        'throughput',
        'off',
        'metrics on',
        'tracing on',
        'control ÷ off (95 %)',
        'metrics ÷ off (95 %)',
        'tracing ÷ off (95 %)',
        'sets: metrics ÷ off',
      ],
      [
        row('sendImage 1 MiB, sends/s (one client)', m.sendImage.wallMs, 1000, 1, m.sendImage.wall),
        row('sendImage 1 MiB, sends per server CPU-second', m.sendImage.cpuMs, 1000, 0, m.sendImage.cpu),
        row(`me, req/s (${m.connections} connections)`, m.me.wallMs, 1000, 0, m.me.wall),
        row('me, requests per server CPU-second', m.me.cpuMs, 1000, 0, m.me.cpu),
      ],
    );
  }
  out.push('Goals:', '');
  table(
    ['goal', 'value', 'target', 'met'],
    r.goals.map((g) => [g.goal, f(g.value, 3), g.target, g.met ? 'yes' : '**no**']),
  );
  return out.join('\n');
}

function mib(bytes: number): string {
  return String(Math.round(bytes / MiB));
}

function round(x: number, d: number): number {
  const k = 10 ** d;
  return Math.round(x * k) / k;
}
