import { conflict, invalidArgument, unavailable } from '../engine-error.js';
import {
  contains,
  formatIpv4,
  formatSubnet,
  type Ipv4Subnet,
  lastAddress,
  overlaps,
  parseIpv4,
  parseSubnet,
  subnetSize,
  within,
} from './ipv4.js';

/** One network's address plan: what it hands out, and what is its own. */
export interface AddressPlan {
  subnet: Ipv4Subnet;
  gateway: number;
  /** `--ip-range`: dynamic addresses come from here (default: the whole subnet). */
  range: Ipv4Subnet;
}

/** `--subnet`, `--gateway`, `--ip-range` checked against each other; the gateway defaults to the first address. */
export function planAddresses(input: { subnet: string; gateway?: string; ipRange?: string }): AddressPlan {
  const subnet = parseSubnet(input.subnet, 'subnet');
  if (subnet.prefix > 30) throw invalidArgument(`subnet ${input.subnet} is too small: use a /30 or larger`);
  const gateway = input.gateway ? parseIpv4(input.gateway, 'gateway') : subnet.base + 1;
  if (!usable(subnet, gateway)) {
    throw invalidArgument(`gateway ${formatIpv4(gateway)} is not a host address of subnet ${formatSubnet(subnet)}`);
  }
  const range = input.ipRange ? parseSubnet(input.ipRange, 'ip-range') : subnet;
  if (!within(range, subnet)) {
    throw invalidArgument(`ip-range ${formatSubnet(range)} is not inside subnet ${formatSubnet(subnet)}`);
  }
  return { subnet, gateway, range };
}

function usable(subnet: Ipv4Subnet, address: number): boolean {
  return contains(subnet, address) && address !== subnet.base && address !== lastAddress(subnet);
}

/** The first free host address of the range (never the network, broadcast or gateway address). */
export function allocateAddress(plan: AddressPlan, taken: ReadonlySet<number>): number {
  const first = plan.range.base;
  for (let address = first; address < first + subnetSize(plan.range); address++) {
    if (usable(plan.subnet, address) && address !== plan.gateway && !taken.has(address)) return address;
  }
  throw unavailable(`no free address left in ${formatSubnet(plan.range)}`);
}

/** A static `--ip`: inside the subnet, not the gateway, not in use. */
export function claimAddress(plan: AddressPlan, text: string, taken: ReadonlySet<number>): number {
  const address = parseIpv4(text, 'IP address');
  if (!usable(plan.subnet, address)) {
    throw invalidArgument(`address ${text} is not a host address of subnet ${formatSubnet(plan.subnet)}`);
  }
  if (address === plan.gateway || taken.has(address)) throw conflict(`address ${text} is already in use`);
  return address;
}

/**
 * A subnet for a new network: the first `size` block of the pool that overlaps neither another
 * network nor any route of the host (so the engine never shadows a network the host can reach).
 */
export function chooseSubnet(pool: Ipv4Subnet, size: number, inUse: readonly Ipv4Subnet[]): Ipv4Subnet {
  if (size < pool.prefix || size > 30) throw invalidArgument(`cannot cut /${size} subnets from ${formatSubnet(pool)}`);
  const step = 2 ** (32 - size);
  for (let base = pool.base; base + step - 1 <= lastAddress(pool); base += step) {
    const candidate = { base, prefix: size };
    if (!inUse.some((used) => overlaps(used, candidate))) return candidate;
  }
  throw unavailable(`no free /${size} subnet left in the address pool ${formatSubnet(pool)}`);
}

/** The destinations of `ip -4 route show table all` lines (`default` and host routes skipped). */
export function routedSubnets(ipRouteOutput: string, ignoreDevices: readonly string[] = []): Ipv4Subnet[] {
  const subnets: Ipv4Subnet[] = [];
  for (const line of ipRouteOutput.split('\n')) {
    const words = line.trim().split(/\s+/);
    const device = words.indexOf('dev') >= 0 ? words[words.indexOf('dev') + 1] : undefined;
    if (device && ignoreDevices.includes(device)) continue;
    // "local 127.0.0.0/8 dev lo table local …", "broadcast …", or "10.0.0.0/8 via …"
    const destination = ['local', 'broadcast', 'unicast', 'blackhole', 'unreachable', 'prohibit'].includes(words[0])
      ? words[1]
      : words[0];
    if (!destination || destination === 'default' || !destination.includes('/')) continue;
    if (words[0] === 'local' || words[0] === 'broadcast') continue;
    try {
      const subnet = parseSubnet(destination, 'route', { loose: true });
      if (subnet.prefix > 0) subnets.push(subnet);
    } catch {
      // not IPv4
    }
  }
  return subnets;
}

/** A MAC address from the IPv4 address, as Docker makes them: 02:42 and the four bytes. */
export function macFor(address: number): string {
  const bytes = [0x02, 0x42, address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255];
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}
