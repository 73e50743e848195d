import { describe, expect, it } from 'vitest';
import { iptablesChains, iptablesJumps, iptablesRestoreScript } from './iptables-rules.js';

describe(iptablesRestoreScript.name, () => {
  const state = {
    networks: [
      { bridge: 'skiff0', subnet: '172.31.0.0/16', internal: false },
      { bridge: 'sk-bbbb', subnet: '172.24.1.0/24', internal: true },
    ],
    ports: [
      {
        protocol: 'tcp' as const,
        hostIp: '',
        hostPort: 8080,
        containerAddress: '172.31.0.2',
        containerPort: 80,
        bridge: 'skiff0',
      },
    ],
  };

  it('declares only chains of its own, so restoring with --noflush replaces them and nothing else', () => {
    const script = iptablesRestoreScript('skiff', state);
    const declared = script.split('\n').filter((line) => line.startsWith(':'));
    expect(declared).toEqual([
      ':SKIFF-POSTROUTING - [0:0]',
      ':SKIFF-PREROUTING - [0:0]',
      ':SKIFF-OUTPUT - [0:0]',
      ':SKIFF-PUBLISH - [0:0]',
      ':SKIFF-FORWARD - [0:0]',
    ]);
    const appended = script.split('\n').filter((line) => line.startsWith('-A'));
    expect(appended.every((line) => line.startsWith('-A SKIFF-'))).toBe(true);
  });

  it('masquerades, DNATs, isolates and seals as the nftables table does', () => {
    const script = iptablesRestoreScript('skiff', state);
    expect(script).toContain('-A SKIFF-POSTROUTING -s 172.31.0.0/16 ! -o skiff0 -j MASQUERADE');
    expect(script).not.toContain('-s 172.24.1.0/24');
    expect(script).toContain(
      '-A SKIFF-PUBLISH ! -i skiff0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.31.0.2:80',
    );
    expect(script).toContain('-A SKIFF-FORWARD -i sk-bbbb ! -o sk-bbbb -j DROP');
    expect(script).toContain('-A SKIFF-FORWARD -i skiff0 -o sk-bbbb -j DROP');
  });

  it('jumps into its chains from the built-in ones', () => {
    expect(iptablesJumps('skiff')).toContainEqual({ table: 'filter', chain: 'FORWARD', rule: ['-j', 'SKIFF-FORWARD'] });
    expect(iptablesChains('skiff_test_ab12').forward).toBe('SKIFF_TEST_AB12-FORWARD');
  });
});
