import { expect } from 'chai';
import { OperationLabels } from '../../src/graphql-metrics.plugin';

describe('GraphQL metrics: the operation label (unit)', () => {
  it('is the operation name, `anonymous` without one, and `other` past the length cap or the count cap', () => {
    const labels = new OperationLabels(3);
    expect(labels.of(undefined)).to.equal('anonymous');
    expect(labels.of('')).to.equal('anonymous');
    expect(labels.of('Me')).to.equal('Me');
    expect(labels.of('x'.repeat(65))).to.equal('other');
    expect(labels.of('SendImage')).to.equal('SendImage');
    expect(labels.of('Images')).to.equal('Images');
    // The cap is reached: names already seen keep their label, new ones are `other`.
    expect(labels.of('Fourth')).to.equal('other');
    expect(labels.of('Me')).to.equal('Me');
    // A client cannot pass its requests off as the catch-all labels.
    expect(new OperationLabels().of('other')).to.equal('other');
    expect(new OperationLabels().of('anonymous')).to.equal('other');
  });
});
