import ipaddr from 'ipaddr.js';

/**
 * The rate-limit key of a client address: an IPv4 address as it is, an IPv6 address by its /56.
 * One subscriber usually holds a whole prefix, commonly a /56 (a household or a small site), so
 * counting single addresses, or even /64s, would hand one client 256 budgets or more.
 */
export function addressKey(ip: string | undefined | null): string {
  if (!ip || !ipaddr.isValid(ip)) return 'unknown';
  const addr = ipaddr.process(ip);
  if (addr.kind() === 'ipv4') return addr.toString();
  const [a, b, c, d] = (addr as ipaddr.IPv6).parts;
  // 56 bits: three whole 16-bit groups and the high byte of the fourth.
  return `${[a, b, c, d & 0xff00].map((p) => p.toString(16)).join(':')}::/56`;
}
