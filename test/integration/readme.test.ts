import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';

/**
 * The README's first round trip must work when pasted into a shell. This runs its block with
 * bash, as it stands, in an empty folder whose `npm start` starts the built server; only the
 * port is changed, to a free one, so that the test never meets a server already on 4000.
 */
const ROOT = path.resolve(__dirname, '../../..');
const MARKER = '<!-- test/integration/readme.test.ts runs the next block as it stands -->';

function roundTripBlock(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no line ${MARKER}`);
  const m = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(at));
  if (!m) throw new Error('README.md has no ```sh block after the round-trip marker');
  return m[1];
}

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('README', function () {
  this.timeout(120_000);

  it('its first round trip works when run as it stands (bash and curl; skipped without them)', async function () {
    const block = roundTripBlock();
    expect(block).to.contain('npm start');
    expect(block).to.contain('127.0.0.1:4000');
    if (!onPath('bash') || !onPath('curl')) return this.skip();

    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-readme-'));
    // `npm start` here starts the built server, as it does in the repository.
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({
        name: 'readme-round-trip',
        private: true,
        scripts: { start: `node ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'main.js'))}` },
      }),
    );
    const script = block.replaceAll('127.0.0.1:4000', `127.0.0.1:${port}`);
    const env = {
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
      HOME: dir,
      PORT: String(port),
      npm_config_update_notifier: 'false',
    };
    // Its own process group, so that whatever the block leaves running is stopped below.
    const child = spawn('bash', ['-c', script], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      const log = fs.existsSync(path.join(dir, 'glimpse.log'))
        ? fs.readFileSync(path.join(dir, 'glimpse.log'), 'utf8')
        : '(no glimpse.log)';
      const why = `${output}\n--- glimpse.log:\n${log}`;
      expect(code, why).to.equal(0);
      expect(output, why).to.contain('"sendImage":{"id":1,"filetype":"image/png","size":70}');
      expect(output, why).to.contain('Bob has the exact bytes');
      expect(output, why).to.contain('"confirmDownload":{"exist":false}');
      expect(output, why).to.contain('"status":"VIEWED"');
      // The image push to Bob and the deletion receipt to Alice.
      expect(output.match(/push \(log provider\)/g), why).to.have.length(2);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
