import { expect } from 'chai';
import { balancedOrder } from '../../bench/order';

/**
 * The metrics and requests sections measure one variant after another, so what one leaves
 * behind falls on the next: their orders must put every variant after every other equally often.
 */
describe('balancedOrder (the bench’s order of interleaved variants)', () => {
  for (const n of [2, 4, 6]) {
    it(`over ${n} consecutive rounds of ${n}, puts each first once and each after each other once`, () => {
      const xs = Array.from({ length: n }, (_, i) => `p${i}`);
      const firsts = new Map<string, number>();
      const follows = new Map<string, number>();
      for (let k = 3; k < 3 + n; k++) {
        const order = balancedOrder(xs, k);
        expect([...order].sort()).to.deep.equal([...xs].sort());
        firsts.set(order[0], (firsts.get(order[0]) ?? 0) + 1);
        for (let i = 1; i < n; i++) {
          const pair = `${order[i - 1]}>${order[i]}`;
          follows.set(pair, (follows.get(pair) ?? 0) + 1);
        }
      }
      expect([...firsts.values()]).to.deep.equal(Array(n).fill(1));
      expect(follows.size).to.equal(n * (n - 1));
      expect([...follows.values()].every((c) => c === 1)).to.equal(true);
    });
  }
});
