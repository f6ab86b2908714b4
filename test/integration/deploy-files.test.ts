import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import yaml from 'js-yaml';
import { loadConfig } from '../../src/config';

const ROOT = path.resolve(__dirname, '../../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Every variable loadConfig reads, found by letting it read an environment that records reads. */
function variablesConfigReads(): string[] {
  const seen = new Set<string>();
  // Values that take every branch: S3 on, GeTui on, Aliyun SMS on.
  const values: Record<string, string> = { S3_ENDPOINT: 'http://127.0.0.1:9000', PUSH_PROVIDER: 'getui', GETUI_APP_ID: 'a', GETUI_APP_KEY: 'k', GETUI_MASTER_SECRET: 's', SMS_PROVIDER: 'aliyun', ALIYUN_ACCESS_KEY_ID: 'i', ALIYUN_ACCESS_KEY_SECRET: 's', ALIYUN_SMS_SIGN_NAME: 'n', ALIYUN_SMS_TEMPLATE_CODE: 't' };
  const env = new Proxy(values, {
    get(target, name) {
      if (typeof name === 'string') seen.add(name);
      return target[name as string];
    },
  });
  loadConfig(env);
  return [...seen].sort();
}

/** Looks docker-compose up on PATH without starting it (it takes a second to start). */
function hasDockerCompose(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, 'docker-compose')));
}

interface ComposeService {
  image?: string;
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
    expect(configVariables).to.include.members(['PORT', 'DATABASE_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'GETUI_MASTER_SECRET', 'INTROSPECTION', 'MAX_IMAGE_BYTES']);
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
    function composeConfig(vars: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-compose-'));
      const envFile = path.join(dir, 'empty.env');
      fs.writeFileSync(envFile, '');
      return new Promise((resolve) => {
        const child = spawn('docker-compose', ['--env-file', envFile, 'config', '-q'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...vars } });
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
      expect(names).to.include.members(['ENCRYPTION_KEY_SECRET_FILE', 'REDIS_URL', 'TRUST_PROXY', 'PUBLIC_URL', 'ALIYUN_ACCESS_KEY_SECRET', 'MYSQL_PASSWORD', 'MINIO_ROOT_PASSWORD', 'PUSH_PROVIDER']);
      const full = Object.fromEntries(names.map((n) => [n, n === 'ENCRYPTION_KEY_SECRET_FILE' ? __filename : `value-of-${n.toLowerCase()}`]));
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
      for (const name of new Set([...text.matchAll(/\$\{([A-Z0-9_]+)[:}]/g)].map((m) => m[1]))) expect(listed, `${name} is missing from .env.example`).to.match(new RegExp(`^#?${name}=`, 'm'));
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
      expect(deps).to.deep.equal({ mysql: { condition: 'service_healthy' }, minio: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
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
