import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { needsMysql } from '../support/services';

/**
 * `npm run bench` must keep working: this runs its small version (BENCH_QUICK=1) end to end and
 * checks that results.json holds every figure. It asserts no speed: numbers come from the bench.
 */
describe('benchmark (BENCH_QUICK=1)', function () {
  this.timeout(180_000);

  it('runs end to end and writes every figure, baseline and ratio to results.json', async function () {
    needsMysql(this); // the bench's servers run on MariaDB
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-bench-test-'));
    const out = path.join(dir, 'results.json');
    try {
      const child = spawn(process.execPath, [path.resolve(__dirname, '../../bench/run.js')], {
        env: { ...process.env, BENCH_QUICK: '1', BENCH_OUT: out },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, output).to.equal(0);

      const r = JSON.parse(fs.readFileSync(out, 'utf8'));
      const figure = (x: unknown, label: string) => expect(Number.isFinite(x) && (x as number) >= 0, `${label} = ${x}`).to.equal(true);
      expect(r.quick).to.equal(true);
      expect(r.commit).to.match(/^[0-9a-f]{7,}$|^unknown$/);
      figure(r.machine.cores, 'cores');

      const cells = (xs: { size: number; clients: number }[]) => xs.map((c) => `${c.size}x${c.clients}`).sort();
      const matrix = ['10485760x1', '10485760x16', '1048576x1', '1048576x16'];
      expect(cells(r.upload)).to.deep.equal(matrix);
      for (const c of r.upload) {
        for (const v of ['sendImage', 'sendImagePlain', 'direct', 'rawPut', 'bare']) figure(c.mibps[v], `upload ${v}`);
        for (const k of ['sendImage/direct', 'sendImage/bare', 'sendImage/rawPut', 'sendImage/sendImagePlain'])
          figure(c.ratios[k], `upload ${k}`);
      }
      expect(cells(r.download)).to.deep.equal(matrix);
      for (const c of r.download) {
        for (const v of ['downloadUrl', 'downloadUrlPlain', 'direct', 'rawGet']) figure(c.mibps[v], `download ${v}`);
        for (const k of ['downloadUrl/direct', 'downloadUrl/rawGet', 'downloadUrl/downloadUrlPlain']) figure(c.ratios[k], `download ${k}`);
      }
      for (const mode of ['declared', 'undeclared']) {
        for (const k of ['bytes', 'idleMiB', 'peakMiB']) figure(r.memory[mode][k], `memory ${mode} ${k}`);
        expect(Number.isFinite(r.memory[mode].growthMiB), `memory ${mode} growth`).to.equal(true);
      }
      for (const mode of ['encrypted', 'plain'])
        for (const k of ['bytes', 'idleMiB', 'peakMiB']) figure(r.encryptionMemory[mode][k], `encryption memory ${mode} ${k}`);
      expect(Number.isFinite(r.encryptionMemory.differenceMiB)).to.equal(true);
      for (const op of ['send', 'download']) {
        expect(r.encryption[op].map((f: { size: number }) => f.size)).to.deep.equal([1048576, 10485760]);
        for (const f of r.encryption[op]) {
          for (const k of ['onMs', 'offMs', 'ratio']) figure(f[k], `encryption ${op} ${f.size} ${k}`);
          // One ratio per fresh server pair the samples came from.
          expect(f.pairRatios, `encryption ${op} ${f.size} pairRatios`).to.have.length(f.pairs);
          const [low, high] = f.interval;
          expect(low <= f.ratio && f.ratio <= high, `encryption ${op} ${f.size}: ${f.ratio} within its interval ${low}–${high}`).to.equal(
            true,
          );
          for (const x of f.pairRatios) figure(x, `encryption ${op} ${f.size} pair ratio`);
        }
      }
      // The heap tuning against V8's default: one fresh process of each, every cycle counted.
      for (const v of ['tuned', 'v8Default']) {
        expect(r.gc[v].samples, `gc ${v} samples`).to.have.length(1);
        for (const k of ['fullCollectionsPer100', 'cpuMs', 'wallMs']) figure(r.gc[v][k], `gc ${v} ${k}`);
      }
      expect(r.gc.v8Default.nodeArgs).to.deep.equal(['--heap-growing-percent=0']);
      figure(r.gc.cpuRatio, 'gc cpuRatio');
      for (const t of ['register', 'registerMove', 'me', 'bareQuery'])
        for (const k of ['rps', 'p50', 'p99']) figure(r.requests[t][k], `${t} ${k}`);
      for (const k of ['register/bareQuery', 'registerMove/bareQuery', 'me/bareQuery', 'register p99/p50', 'me p99/p50'])
        figure(r.requests.ratios[k], k);
      for (const size of ['small', 'large']) for (const k of ['rows', 'p50', 'p99']) figure(r.images[size][k], `images ${size} ${k}`);
      expect(r.images.large.rows).to.be.greaterThan(r.images.small.rows);
      figure(r.images.ratio, 'images ratio');
      const d = r.social.discoverContacts;
      for (const side of ['small', 'large'])
        for (const k of ['users', 'p50', 'p90', 'found', 'diskReadsPerCall']) figure(d[side][k], `discoverContacts ${side} ${k}`);
      expect(d.large.users).to.be.greaterThan(d.small.users);
      for (const k of ['ratio', 'index.bytes', 'bufferPool.foundBytes', 'bufferPool.usedBytes'])
        figure(
          k.split('.').reduce((o, p) => o[p], d),
          `discoverContacts ${k}`,
        );
      // The quick version leaves the shared MariaDB's buffer pool as it found it.
      expect(d.bufferPool.resized).to.equal(false);
      const group = r.social.sendGroupImage;
      for (const v of ['sendImage', 'sendGroupImage']) for (const k of ['p50', 'p90', 'runs']) figure(group[v][k], `${v} ${k}`);
      figure(group.ratio, 'sendGroupImage ratio');
      // Issue 25: metrics on, and tracing on, against neither, as the client saw it and per server CPU-second.
      for (const op of ['sendImage', 'me']) {
        for (const v of ['off', 'control', 'metrics', 'tracing']) {
          figure(r.metrics[op].wallMs[v], `metrics ${op} ${v} ms`);
          figure(r.metrics[op].cpuMs[v], `metrics ${op} ${v} CPU ms`);
        }
        for (const of of ['wall', 'cpu'])
          for (const on of ['control', 'metrics', 'tracing']) {
            const x = r.metrics[op][of][on];
            figure(x.value, `${op} ${of} ${on}/off`);
            // The interval resamples sets, and holds the ratio; each set has a ratio of its own.
            expect(x.interval[0], `${op} ${of} ${on}/off interval`).to.be.at.most(x.value);
            expect(x.interval[1], `${op} ${of} ${on}/off interval`).to.be.at.least(x.value);
            expect(x.sets, `${op} ${of} ${on}/off per set`).to.have.length(r.metrics.sets);
          }
      }
      expect(r.metrics.scrapes).to.be.greaterThan(0);
      expect(r.metrics.traceExports).to.be.greaterThan(0);
      const rt = r.realtime;
      for (const path of ['sameInstance', 'acrossRedis', 'acrossPoll'])
        for (const k of ['samples', 'p50', 'p99', 'max']) figure(rt[path][k], `realtime ${path} ${k}`);
      for (const k of ['connections', 'rssBeforeMiB', 'rssAfterMiB', 'openSeconds']) figure(rt.idle[k], `realtime idle ${k}`);
      expect(Number.isFinite(rt.idle.bytesPerConnection), 'realtime bytes per connection').to.equal(true);
      for (const k of ['subscribers', 'events', 'p50', 'p99']) figure(rt.idle.fanout[k], `realtime fan-out ${k}`);
      expect(r.goals).to.have.length(37);
      // Issue 26's fixed cost of a small request: 1 MiB sends and downloads at 1 and 16 clients, me, register.
      expect(r.goals.filter((g: { goal: string }) => g.goal.startsWith('fixed cost:'))).to.have.length(6);
      // Issue 10's comparison with the same build with encryption at rest off.
      expect(r.goals.filter((g: { goal: string }) => /ENCRYPTION=off/.test(g.goal))).to.have.length(5);
      for (const g of r.goals) expect(g.met, g.goal).to.be.a('boolean');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
