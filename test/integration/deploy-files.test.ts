import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import yaml from 'js-yaml';
import { metricNamesIn, scrape } from '../support/metrics';
import { variablesConfigReads } from '../support/config-variables';
import { freePort, startStack, TestStack } from '../support/stack';

const ROOT = path.resolve(__dirname, '../../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Looks docker-compose up on PATH without starting it (it takes a second to start). */
function hasDockerCompose(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, 'docker-compose')));
}

interface ComposeService {
  image?: string;
  profiles?: string[];
  volumes?: string[];
  build?: unknown;
  ports?: (string | { host_ip?: string; published?: string | number })[];
  healthcheck?: { test?: unknown };
  depends_on?: Record<string, { condition?: string }> | string[];
  environment?: Record<string, string | null> | string[];
  restart?: string;
}

describe('deployment files', () => {
  const configVariables = variablesConfigReads();

  it('finds the variables src/config.ts reads (sanity check of the finder)', () => {
    expect(configVariables).to.include.members([
      'PORT',
      'DATABASE_URL',
      'S3_ENDPOINT',
      'S3_BUCKET',
      'GETUI_MASTER_SECRET',
      'INTROSPECTION',
      'MAX_IMAGE_BYTES',
    ]);
  });

  it('.env.example lists every variable src/config.ts reads, each under a comment', () => {
    const lines = read('.env.example').split('\n');
    const listed = new Map<string, number>();
    lines.forEach((line, i) => {
      const m = /^#?([A-Z][A-Z0-9_]+)=/.exec(line);
      if (m) listed.set(m[1], i);
    });
    for (const name of configVariables) {
      expect(listed.has(name), `${name} is missing from .env.example`).to.equal(true);
      const above = lines[listed.get(name)! - 1];
      expect(above.startsWith('# '), `${name} has no comment line above it`).to.equal(true);
    }
  });

  describe('docker-compose.yml', () => {
    let services: Record<string, ComposeService>;
    before(() => {
      // The file as written (docker-compose itself checks it below): its ${VAR:-default} values
      // stay unexpanded, which the checks allow for.
      services = (yaml.load(read('docker-compose.yml')) as { services: Record<string, ComposeService> }).services;
    });

    /** Every `${NAME:?message}` of the file: what `docker compose up` refuses to start without. */
    const required = () => [...new Set([...read('docker-compose.yml').matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]))].sort();

    /** `docker-compose config -q` with exactly these variables (no .env, nothing inherited but PATH). */
    function composeConfig(vars: Record<string, string>, profile?: string): Promise<{ status: number | null; stderr: string }> {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-compose-'));
      const envFile = path.join(dir, 'empty.env');
      fs.writeFileSync(envFile, '');
      return new Promise((resolve) => {
        const child = spawn('docker-compose', [...(profile ? ['--profile', profile] : []), '--env-file', envFile, 'config', '-q'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', ...vars },
        });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
        child.once('exit', (status) => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve({ status, stderr });
        });
      });
    }

    it('is valid Compose to docker-compose with every required setting, and stops naming each one that is missing (skipped where docker-compose is not installed)', async function () {
      if (!hasDockerCompose()) return this.skip();
      this.timeout(120_000);
      const names = required();
      expect(names).to.include.members([
        'ENCRYPTION_KEY_SECRET_FILE',
        'REDIS_URL',
        'TRUST_PROXY',
        'PUBLIC_URL',
        'ALIYUN_ACCESS_KEY_SECRET',
        'MYSQL_PASSWORD',
        'MINIO_ROOT_PASSWORD',
        'PUSH_PROVIDER',
      ]);
      const full = Object.fromEntries(
        names.map((n) => [n, n === 'ENCRYPTION_KEY_SECRET_FILE' ? __filename : `value-of-${n.toLowerCase()}`]),
      );
      const complete = await composeConfig(full);
      expect(complete.status, complete.stderr).to.equal(0);
      const missing = await Promise.all(names.map((n) => composeConfig(Object.fromEntries(Object.entries(full).filter(([k]) => k !== n)))));
      missing.forEach((r, i) => {
        expect(r.status, `without ${names[i]}`).to.not.equal(0);
        expect(r.stderr, `without ${names[i]}`).to.contain(`set ${names[i]}`);
      });
    });

    it('runs in production only: the master key from a Docker secret, no secret with a default, every variable in .env.example', () => {
      const env = services.app.environment as Record<string, string>;
      expect(env.NODE_ENV).to.equal('production');
      expect(env.ENCRYPTION_KEY_FILE).to.equal('/run/secrets/glimpse_encryption_key');
      expect(env).not.to.have.property('ENCRYPTION_KEY');
      expect((services.app as { secrets?: string[] }).secrets).to.deep.equal(['glimpse_encryption_key']);
      const text = read('docker-compose.yml');
      const defaulted = [...text.matchAll(/\$\{([A-Z0-9_]*(PASSWORD|SECRET|KEY|USER)[A-Z0-9_]*):-([^}]+)\}/g)].map((m) => m[1]);
      expect(defaulted, 'secrets with a default value').to.deep.equal([]);
      const listed = read('.env.example');
      for (const name of new Set([...text.matchAll(/\$\{([A-Z0-9_]+)[:}]/g)].map((m) => m[1])))
        expect(listed, `${name} is missing from .env.example`).to.match(new RegExp(`^#?${name}=`, 'm'));
    });

    it('restarts the app unless it was stopped: a process that exits comes back', () => {
      expect(services.app.restart).to.equal('unless-stopped');
    });

    it('runs MySQL 8, MinIO, Redis and the app built from the Dockerfile, each with a health check', () => {
      expect(services.mysql.image).to.match(/^mysql:8(\.|$)/);
      expect(services.minio.image).to.match(/minio\/minio:/);
      expect(services.app.build).to.not.equal(undefined);
      for (const [name, s] of Object.entries(services)) expect(s.healthcheck?.test, `${name} has no health check`).to.not.equal(undefined);
      const deps = services.app.depends_on as Record<string, { condition?: string }>;
      expect(deps).to.deep.equal({
        mysql: { condition: 'service_healthy' },
        minio: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
    });

    it('publishes every port on 127.0.0.1 only', () => {
      let count = 0;
      for (const [name, s] of Object.entries(services)) {
        for (const p of s.ports ?? []) {
          count++;
          const hostIp = typeof p === 'string' ? p.split(':')[0] : p.host_ip;
          expect(hostIp, `${name} publishes ${JSON.stringify(p)}`).to.equal('127.0.0.1');
        }
      }
      expect(count).to.be.greaterThan(0);
    });

    it('passes the app only variables it reads', () => {
      const env = services.app.environment!;
      const names = Array.isArray(env) ? env.map((e) => e.split('=')[0]) : Object.keys(env);
      expect(names.filter((n) => !configVariables.includes(n))).to.deep.equal([]);
    });

    it('runs Prometheus and Grafana only in the monitoring profile, provisioned from deploy/ (`docker-compose --profile monitoring config -q` where installed)', async function () {
      for (const name of ['prometheus', 'grafana']) expect(services[name].profiles, name).to.deep.equal(['monitoring']);
      for (const name of ['mysql', 'minio', 'app']) expect(services[name].profiles, name).to.equal(undefined);
      // Every file a monitoring service mounts is in the repository.
      for (const name of ['prometheus', 'grafana']) {
        for (const v of services[name].volumes ?? []) {
          if (v.startsWith('./')) expect(fs.existsSync(path.join(ROOT, v.split(':')[0])), `${name} mounts ${v}`).to.equal(true);
        }
      }
      // Prometheus scrapes the app at the METRICS_PORT compose gives it, and loads the rules where they are mounted.
      const prom = yaml.load(read('deploy/prometheus/prometheus.yml')) as {
        rule_files: string[];
        scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
      };
      const appEnv = services.app.environment as Record<string, string>;
      expect(appEnv.METRICS_PORT).to.equal('${METRICS_PORT:-9464}');
      const glimpse = prom.scrape_configs.find((c) => c.job_name === 'glimpse')!;
      expect(glimpse.static_configs[0].targets).to.deep.equal(['app:9464']);
      const mounted = (services.prometheus.volumes ?? []).map((v) => v.split(':')[1]);
      for (const f of prom.rule_files) expect(mounted, f).to.include(f);
      // Grafana's datasource is the Prometheus service; its dashboard folder is the one mounted.
      const ds = yaml.load(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
        datasources: { uid: string; url: string }[];
      };
      expect(ds.datasources[0].url).to.equal('http://prometheus:9090');
      const boards = yaml.load(read('deploy/grafana/provisioning/dashboards/glimpse.yml')) as {
        providers: { options: { path: string } }[];
      };
      expect((services.grafana.volumes ?? []).map((v) => v.split(':')[1])).to.include(boards.providers[0].options.path);
      const dashboard = JSON.parse(read('deploy/grafana/dashboards/glimpse.json')) as { panels: { datasource?: { uid: string } }[] };
      for (const p of dashboard.panels) if (p.datasource) expect(p.datasource.uid).to.equal(ds.datasources[0].uid);
      if (!hasDockerCompose()) return this.skip();
      const full = Object.fromEntries(
        required().map((n) => [n, n === 'ENCRYPTION_KEY_SECRET_FILE' ? __filename : `value-of-${n.toLowerCase()}`]),
      );
      const r = await composeConfig(full, 'monitoring');
      expect(r.status, r.stderr).to.equal(0);
    });
  });

  describe('deploy/: the alert rules and the dashboard name only metrics a running server exports', function () {
    this.timeout(60_000);
    let stack: TestStack;
    let exported: Set<string>;
    before(async () => {
      stack = await startStack('sqlite-local', { METRICS_PORT: String(await freePort()) });
      exported = (await scrape(stack.server.metricsUrl!)).names;
      // `up` is recorded by Prometheus for every scrape.
      exported.add('up');
    });
    after(async () => {
      await stack?.stop();
    });

    it('the alert rules parse, cover outbox lag, push failures, the error ratio and readiness, and name exported metrics', () => {
      const rules = (
        yaml.load(read('deploy/prometheus/alerts.yml')) as { groups: { rules: { alert: string; expr: string; for?: string }[] }[] }
      ).groups.flatMap((g) => g.rules);
      const used = new Set<string>();
      for (const r of rules) {
        const names = metricNamesIn(r.expr);
        expect(names, `${r.alert} names no metric`).to.have.length.greaterThan(0);
        for (const n of names) {
          expect(exported.has(n), `${r.alert} names ${n}, which the server does not export`).to.equal(true);
          used.add(n);
        }
      }
      expect([...used]).to.include.members([
        'glimpse_push_outbox_oldest_pending_seconds',
        'glimpse_push_jobs_total',
        'glimpse_graphql_requests_total',
        'glimpse_ready',
        'up',
      ]);
    });

    it('the dashboard parses, shows traffic, errors, latency, bytes, the outbox, pushes, limits and the event loop, and names exported metrics', () => {
      const dashboard = JSON.parse(read('deploy/grafana/dashboards/glimpse.json')) as {
        panels: { title: string; targets?: { expr: string }[] }[];
      };
      const used = new Set<string>();
      for (const p of dashboard.panels) {
        for (const t of p.targets ?? []) {
          const names = metricNamesIn(t.expr);
          expect(names, `panel "${p.title}" names no metric`).to.have.length.greaterThan(0);
          for (const n of names) {
            expect(exported.has(n), `panel "${p.title}" names ${n}, which the server does not export`).to.equal(true);
            used.add(n);
          }
        }
      }
      expect([...used]).to.include.members([
        'glimpse_graphql_requests_total',
        'glimpse_graphql_request_duration_seconds_bucket',
        'glimpse_image_bytes_received_total',
        'glimpse_image_bytes_served_total',
        'glimpse_push_outbox_pending',
        'glimpse_push_outbox_oldest_pending_seconds',
        'glimpse_push_jobs_total',
        'glimpse_rate_limited_total',
        'nodejs_eventloop_lag_p99_seconds',
      ]);
    });
  });

  it('the Dockerfile builds in stages and runs production dependencies only, not as root', () => {
    const dockerfile = read('Dockerfile');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.length).to.be.greaterThan(1);
    const runtime = stages[stages.length - 1];
    expect(runtime).to.match(/npm ci --omit=dev/);
    const users = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.length).to.be.greaterThan(0);
    expect(users[users.length - 1]).to.not.match(/^(root|0)$/);
    expect(runtime).to.match(/^HEALTHCHECK .*\/readyz/ms);
  });
});
