/**
 * IPv4 address and CIDR checks for what goes into rules. iptables (not ip6tables)
 * takes only IPv4, and a malformed address would fail the whole restore, so every
 * address is checked before it becomes a rule.
 */

const OCTET = /^(?:0|[1-9]\d{0,2})$/;

/** A dotted quad with no leading zeros (as Kubernetes validates cluster and pod IPs). */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => OCTET.test(p) && Number(p) <= 255);
}

/** `a.b.c.d/n` with n in 0..32. */
export function isIPv4CIDR(s: string): boolean {
  const [ip, bits, ...rest] = s.split('/');
  return rest.length === 0 && ip !== undefined && isIPv4(ip) && bits !== undefined && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
}

/** A TCP/UDP port number, 1..65535. */
export function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65_535;
}
