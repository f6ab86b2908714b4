import { expect } from 'chai';
import { addressKey } from '../../src/services/client-address';

describe('client address keys (unit)', () => {
  it('counts an IPv6 client by its /56: every /64 of one /56 shares a key, the next /56 does not', () => {
    const key = addressKey('2001:db8:aa:1200::1');
    expect(key).to.equal('2001:db8:aa:1200::/56');
    for (const same of ['2001:db8:aa:1201::1', '2001:db8:aa:12ff:ffff:ffff:ffff:ffff', '2001:0db8:00aa:1234:5::9'])
      expect(addressKey(same), same).to.equal(key);
    for (const other of ['2001:db8:aa:1300::1', '2001:db8:aa:1100::1', '2001:db8:ab:1200::1'])
      expect(addressKey(other), other).not.to.equal(key);
  });

  it('counts an IPv4 address (also IPv4-mapped IPv6) as it is, and anything else as unknown', () => {
    expect(addressKey('203.0.113.9')).to.equal('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).to.equal('203.0.113.9');
    expect(addressKey('203.0.113.10')).not.to.equal(addressKey('203.0.113.9'));
    for (const none of [undefined, null, '', 'not-an-ip']) expect(addressKey(none)).to.equal('unknown');
  });
});
