import { isIPv4, isIPv6 } from 'node:net';

/**
 * A client IP as kept in a lead's consent proof and in logs: truncated to its /24 (IPv4) or /48
 * (IPv6), enough to tell networks apart without naming a household.
 */
export function truncateIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = mapped?.[1] ?? ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIPv6(ip)) return `${expandIpv6(ip).slice(0, 3).join(':')}::/48`;
  return 'unknown';
}

/** The eight hextets of an IPv6 address, without leading zeros. */
function expandIpv6(ip: string): string[] {
  const [head = '', tail] = ip.split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...zeros, ...right].map((h) => h.replace(/^0+(?=.)/, '').toLowerCase());
}
