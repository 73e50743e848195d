import { describe, expect, it } from 'vitest';
import { allocateAddress, chooseSubnet, claimAddress, macFor, planAddresses, routedSubnets } from './ipam.js';
import { formatIpv4, formatSubnet, parseIpv4, parseSubnet } from './ipv4.js';

describe('planAddresses', () => {
  it('takes the first host address as the gateway unless one is given', () => {
    expect(formatIpv4(planAddresses({ subnet: '172.20.0.0/16' }).gateway)).toBe('172.20.0.1');
    expect(formatIpv4(planAddresses({ subnet: '172.20.0.0/16', gateway: '172.20.0.254' }).gateway)).toBe(
      '172.20.0.254',
    );
  });

  it('refuses a gateway outside the subnet, an ip-range outside it, and host bits in the subnet', () => {
    expect(() => planAddresses({ subnet: '172.20.0.0/16', gateway: '10.0.0.1' })).toThrow(/not a host address/);
    expect(() => planAddresses({ subnet: '172.20.0.0/16', ipRange: '172.21.0.0/24' })).toThrow(/not inside/);
    expect(() => planAddresses({ subnet: '172.20.0.1/16' })).toThrow(/host bits/);
    expect(() => planAddresses({ subnet: '300.1.1.0/24' })).toThrow(/invalid subnet/);
    expect(() => planAddresses({ subnet: '10.0.0.0/31' })).toThrow(/too small/);
  });
});

describe('allocateAddress', () => {
  it('hands out the lowest free host address, skipping the gateway and the taken ones', () => {
    const plan = planAddresses({ subnet: '10.1.0.0/29' });
    expect(formatIpv4(allocateAddress(plan, new Set()))).toBe('10.1.0.2');
    expect(formatIpv4(allocateAddress(plan, new Set([parseIpv4('10.1.0.2', 'a')])))).toBe('10.1.0.3');
  });

  it('stays inside --ip-range and says when the range is full', () => {
    const plan = planAddresses({ subnet: '10.1.0.0/24', ipRange: '10.1.0.128/30' });
    const taken = new Set<number>();
    const given = [0, 1, 2, 3].map(() => {
      const address = allocateAddress(plan, taken);
      taken.add(address);
      return formatIpv4(address);
    });
    expect(given).toEqual(['10.1.0.128', '10.1.0.129', '10.1.0.130', '10.1.0.131']);
    expect(() => allocateAddress(plan, taken)).toThrow(/no free address left in 10.1.0.128\/30/);
  });

  it('never hands out the broadcast address', () => {
    const plan = planAddresses({ subnet: '10.1.0.0/30' });
    const first = allocateAddress(plan, new Set());
    expect(formatIpv4(first)).toBe('10.1.0.2');
    expect(() => allocateAddress(plan, new Set([first]))).toThrow(/no free address/);
  });
});

describe('claimAddress', () => {
  it('accepts a free static address and refuses the gateway, a taken one and one outside', () => {
    const plan = planAddresses({ subnet: '10.1.0.0/24' });
    expect(formatIpv4(claimAddress(plan, '10.1.0.50', new Set()))).toBe('10.1.0.50');
    expect(() => claimAddress(plan, '10.1.0.1', new Set())).toThrow(/already in use/);
    expect(() => claimAddress(plan, '10.1.0.50', new Set([parseIpv4('10.1.0.50', 'a')]))).toThrow(/already in use/);
    expect(() => claimAddress(plan, '10.2.0.5', new Set())).toThrow(/not a host address/);
    expect(() => claimAddress(plan, 'ten', new Set())).toThrow(/invalid IP address/);
  });
});

describe('chooseSubnet', () => {
  it('skips subnets that overlap a network or a route of the host', () => {
    const pool = parseSubnet('172.24.0.0/22', 'pool');
    const used = [parseSubnet('172.24.0.0/24', 'a'), parseSubnet('172.24.1.128/25', 'b')];
    expect(formatSubnet(chooseSubnet(pool, 24, used))).toBe('172.24.2.0/24');
  });

  it('says when the pool is exhausted', () => {
    const pool = parseSubnet('172.24.0.0/24', 'pool');
    expect(() => chooseSubnet(pool, 24, [parseSubnet('172.0.0.0/8', 'a')])).toThrow(/no free \/24 subnet/);
  });
});

describe('routedSubnets', () => {
  it('reads the destinations of ip route, without default, local tables and ignored devices', () => {
    const output = [
      'default via 192.0.2.1 dev eth0',
      '192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2',
      '10.8.0.0/16 via 192.0.2.9 dev eth0',
      '172.31.0.0/16 dev skiff0 proto kernel scope link src 172.31.0.1',
      'local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1',
      'broadcast 192.0.2.255 dev eth0 table local proto kernel scope link src 192.0.2.2',
    ].join('\n');
    expect(routedSubnets(output, ['skiff0']).map(formatSubnet)).toEqual(['192.0.2.0/24', '10.8.0.0/16']);
  });
});

describe('macFor', () => {
  it("makes Docker's 02:42 MAC from the address", () => {
    expect(macFor(parseIpv4('172.17.0.2', 'a'))).toBe('02:42:ac:11:00:02');
  });
});
