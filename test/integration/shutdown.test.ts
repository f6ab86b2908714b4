import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createTestDatabase } from '../support/mysql';
import { needsMysql } from '../support/services';
import { freePort } from '../support/stack';

describe('process shutdown', function () {
  this.timeout(30_000);
  before(function () {
    needsMysql(this);
  });

  it('exits 0 on SIGTERM after serving requests (MySQL, production)', async () => {
    const db = await createTestDatabase();
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const port = await freePort();
      child = spawn(process.execPath, [path.resolve(__dirname, '../../src/main.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'production',
          ENCRYPTION_KEY: randomBytes(32).toString('base64'),
          // Production refuses the log SMS provider; these are never called here.
          SMS_PROVIDER: 'aliyun',
          ALIYUN_ACCESS_KEY_ID: 'id',
          ALIYUN_ACCESS_KEY_SECRET: 'secret',
          ALIYUN_SMS_SIGN_NAME: 'Glimpse',
          ALIYUN_SMS_TEMPLATE_CODE: 'SMS_0',
          ALIYUN_SMS_ENDPOINT: 'http://127.0.0.1:9',
          HOST: '127.0.0.1',
          PORT: String(port),
          DATABASE_URL: db.url,
          LOG_LEVEL: 'info',
          DATA_DIR: path.join(os.tmpdir(), `glimpse-shutdown-${port}`),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const proc = child;
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        proc.stdout!.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          if (out.includes('Glimpse listening')) resolve();
        });
        exited.then(() => reject(new Error(`Glimpse exited before listening: ${out}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ me { uid } }' }),
      });
      expect(res.status).to.equal(200);
      proc.kill('SIGTERM');
      // Apollo's own signal handler once left our stop() waiting forever: the process hung.
      expect(await exited).to.equal(0);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await db.drop();
    }
  });
});
