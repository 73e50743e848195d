import { describe, expect, it } from 'vitest';

import { parseTargets, targetLabel } from './install-targets';

describe(parseTargets.name, () => {
  it('reads one address per line, with or without a port, and drops repeats', () => {
    expect(parseTargets('10.0.0.5\nweb-2.lan:2222, 10.0.0.5\n[fd00::1]:22 fd00::2')).toEqual([
      { address: '10.0.0.5', port: 22 },
      { address: 'web-2.lan', port: 2222 },
      { address: 'fd00::1', port: 22 },
      { address: 'fd00::2', port: 22 },
    ]);
  });

  it('names the word that is not an address', () => {
    expect(() => parseTargets('10.0.0.5\n-oProxyCommand=x')).toThrow('"-oProxyCommand=x" is not an address');
    expect(() => parseTargets('host:99999')).toThrow('"host:99999": the port must be 1 to 65535');
  });
});

describe(targetLabel.name, () => {
  it('leaves out the default port and brackets IPv6 addresses', () => {
    expect(targetLabel({ address: '10.0.0.5', port: 22 })).toBe('10.0.0.5');
    expect(targetLabel({ address: 'fd00::1', port: 2222 })).toBe('[fd00::1]:2222');
  });
});
