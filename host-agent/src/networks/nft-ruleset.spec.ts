import { describe, expect, it } from 'vitest';
import { nftDeleteTable, nftRuleset } from './nft-ruleset.js';

describe(nftRuleset.name, () => {
  const networks = [
    { bridge: 'skiff0', subnet: '172.31.0.0/16', internal: false },
    { bridge: 'sk-aaaa', subnet: '172.24.0.0/24', internal: false },
    { bridge: 'sk-bbbb', subnet: '172.24.1.0/24', internal: true },
  ];

  it('replaces its own table in one script, touching no other', () => {
    const script = nftRuleset('skiff', { networks, ports: [] });
    expect(script.split('\n').slice(0, 3)).toEqual(['table ip skiff', 'delete table ip skiff', 'table ip skiff {']);
    expect(script).not.toMatch(/table (inet|ip6|bridge)|flush ruleset/);
  });

  it('masquerades what leaves a network that is not internal', () => {
    const script = nftRuleset('skiff', { networks, ports: [] });
    expect(script).toContain('ip saddr 172.31.0.0/16 oifname != "skiff0" masquerade');
    expect(script).toContain('ip saddr 172.24.0.0/24 oifname != "sk-aaaa" masquerade');
    expect(script).not.toContain('172.24.1.0/24');
  });

  it('drops traffic between networks, and everything in and out of an internal one', () => {
    const script = nftRuleset('skiff', { networks, ports: [] });
    expect(script).toContain('iifname "sk-aaaa" oifname { "skiff0", "sk-bbbb" } drop');
    expect(script).toContain('iifname "sk-bbbb" oifname != "sk-bbbb" drop');
    expect(script).toContain('oifname "sk-bbbb" iifname != "sk-bbbb" drop');
  });

  it('DNATs published ports, but leaves 127.0.0.1 to the userland proxy', () => {
    const script = nftRuleset('skiff', {
      networks,
      ports: [
        {
          protocol: 'tcp',
          hostIp: '',
          hostPort: 8080,
          containerAddress: '172.31.0.2',
          containerPort: 80,
          bridge: 'skiff0',
        },
        {
          protocol: 'udp',
          hostIp: '127.0.0.1',
          hostPort: 5353,
          containerAddress: '172.31.0.3',
          containerPort: 53,
          bridge: 'skiff0',
        },
      ],
    });
    expect(script).toContain('iifname != "skiff0" tcp dport 8080 dnat to 172.31.0.2:80');
    expect(script).not.toContain('5353');
  });

  it('refuses names and addresses that could change the script', () => {
    expect(() => nftRuleset('skiff; flush ruleset', { networks: [], ports: [] })).toThrow(/table name/);
    expect(() =>
      nftRuleset('skiff', { networks: [{ bridge: 'x" accept', subnet: '10.0.0.0/24', internal: false }], ports: [] }),
    ).toThrow(/bridge name/);
  });

  it('deletes its table whether or not it exists', () => {
    expect(nftDeleteTable('skiff')).toBe('table ip skiff\ndelete table ip skiff\n');
  });
});
