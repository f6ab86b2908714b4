import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { expect } from 'chai';
import { nodeVersionProblem } from '../../src/node-version';
import { MAIN_JS } from '../support/process';

describe('the built server on an old Node', () => {
  it('the built server started by an older Node says so in one line and exits with code 2', function () {
    // The machine's own Node, when it is older (Debian's is 20); otherwise there is none to try.
    const old = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
      if (!fs.existsSync(p)) return false;
      return nodeVersionProblem(execFileSync(p, ['--version'], { encoding: 'utf8' }).trim()) !== null;
    });
    if (!old) this.skip(); // no Node older than 24 on this machine to start the server with
    const run = spawnSync(old!, [MAIN_JS], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 });
    expect(run.status).to.equal(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^Glimpse needs Node 24 or newer \(LTS\); this is Node \d+\./);
    expect(run.stdout).to.equal('');
  });
});
