import { expect } from 'chai';
import { NumberVisibility } from '../../src/services/number-visibility';

describe('NumberVisibility (unit)', () => {
  /** Friends of viewer 1: users 2 and 3; every lookup is recorded. */
  const lookups: number[][] = [];
  const friends = {
    friendsAmong: async (viewerUid: number, uids: number[]) => {
      lookups.push([viewerUid, ...uids]);
      return new Set(uids.filter((u) => viewerUid === 1 && (u === 2 || u === 3)));
    },
  };
  beforeEach(() => {
    lookups.length = 0;
  });

  it('shows the viewer its own number at once, with no lookup', () => {
    expect(new NumberVisibility(1).shown(1, 'h1', friends)).to.equal('h1');
    expect(lookups).to.deep.equal([]);
  });

  it("shows friends' numbers and no one else's, checking all the users of one tick in one lookup", async () => {
    const numbers = new NumberVisibility(1);
    const shown = await Promise.all([2, 3, 4, 5, 2].map((uid) => numbers.shown(uid, `h${uid}`, friends)));
    expect(shown).to.deep.equal(['h2', 'h3', null, null, 'h2']);
    expect(lookups).to.deep.equal([[1, 2, 3, 4, 5]]);
    // Remembered for the rest of the request.
    expect(await numbers.shown(4, 'h4', friends)).to.equal(null);
    expect(lookups).to.have.length(1);
  });

  it('shows numbers the request revealed (discovery answers, a sender to its receiver) without a lookup', () => {
    const numbers = new NumberVisibility(1);
    numbers.reveal([7, 8]);
    expect(numbers.shown(7, 'h7', friends)).to.equal('h7');
    expect(numbers.shown(8, 'h8', friends)).to.equal('h8');
    expect(lookups).to.deep.equal([]);
  });

  it('without a viewer shows only what was revealed (the registrant its own account)', () => {
    const numbers = new NumberVisibility(null);
    expect(numbers.shown(2, 'h2', friends)).to.equal(null);
    numbers.reveal([9]);
    expect(numbers.shown(9, 'h9', friends)).to.equal('h9');
    expect(lookups).to.deep.equal([]);
  });
});
