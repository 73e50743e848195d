import { invalidArgument } from '../engine-error.js';

/** An IPv4 network: its first address as a 32-bit number and its prefix length. */
export interface Ipv4Subnet {
  base: number;
  prefix: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** `10.1.2.3` → a number; undefined when the text is no dotted-quad address. */
export function tryParseIpv4(text: string): number | undefined {
  const match = DOTTED.exec(text.trim());
  if (!match) return undefined;
  const parts = match.slice(1).map(Number);
  if (parts.some((part, index) => part > 255 || (match[index + 1].length > 1 && match[index + 1].startsWith('0'))))
    return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function parseIpv4(text: string, what: string): number {
  const address = tryParseIpv4(text);
  if (address === undefined) throw invalidArgument(`invalid ${what} ${JSON.stringify(text)}: expected an IPv4 address`);
  return address;
}

export function formatIpv4(address: number): string {
  return [address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * `172.18.0.0/16` → the subnet. The address must be the network's first one unless `loose`
 * (`10.0.0.1/24` is then 10.0.0.0/24), as `ip route` prints them.
 */
export function parseSubnet(text: string, what: string, { loose = false } = {}): Ipv4Subnet {
  const [address, prefixText, ...rest] = text.trim().split('/');
  const prefix = Number(prefixText);
  if (rest.length || prefixText === undefined || !/^\d{1,2}$/.test(prefixText) || prefix > 32) {
    throw invalidArgument(`invalid ${what} ${JSON.stringify(text)}: expected an IPv4 CIDR such as 172.20.0.0/16`);
  }
  const base = parseIpv4(address, what);
  const masked = (base & maskOf(prefix)) >>> 0;
  if (masked !== base && !loose) {
    throw invalidArgument(
      `invalid ${what} ${JSON.stringify(text)}: the address has host bits set (did you mean ${formatSubnet({ base: masked, prefix })}?)`,
    );
  }
  return { base: masked, prefix };
}

export function formatSubnet(subnet: Ipv4Subnet): string {
  return `${formatIpv4(subnet.base)}/${subnet.prefix}`;
}

export function subnetSize(subnet: Ipv4Subnet): number {
  return 2 ** (32 - subnet.prefix);
}

export function lastAddress(subnet: Ipv4Subnet): number {
  return subnet.base + subnetSize(subnet) - 1;
}

export function contains(subnet: Ipv4Subnet, address: number): boolean {
  return (address & maskOf(subnet.prefix)) >>> 0 === subnet.base;
}

export function overlaps(a: Ipv4Subnet, b: Ipv4Subnet): boolean {
  return a.base <= lastAddress(b) && b.base <= lastAddress(a);
}

/** Whether `inner` lies wholly inside `outer`. */
export function within(inner: Ipv4Subnet, outer: Ipv4Subnet): boolean {
  return inner.prefix >= outer.prefix && contains(outer, inner.base);
}
