import { expect } from 'chai';
import { MIN_NODE_MAJOR, nodeVersionProblem } from '../../src/node-version';

describe('the Node version check', () => {
  it('refuses Node 20 and 22 by name and accepts 24 and later', () => {
    expect(nodeVersionProblem('v20.20.2')).to.equal(
      `Glimpse needs Node ${MIN_NODE_MAJOR} or newer (LTS); this is Node 20.20.2. Install Node ${MIN_NODE_MAJOR} (see .nvmrc) and start again.`,
    );
    expect(nodeVersionProblem('v22.1.0')).to.match(/this is Node 22\.1\.0/);
    expect(nodeVersionProblem('v24.0.0')).to.equal(null);
    expect(nodeVersionProblem('v26.3.1')).to.equal(null);
  });

  it('the tests themselves run on Node 24 or later', () => {
    expect(nodeVersionProblem(process.version)).to.equal(null);
  });
});
