import { describe, expect, it } from 'vitest';

import {
  CAPABILITY_NAMES,
  capabilitiesInMask,
  capabilityMask,
  capabilityNumber,
  computeCapabilities,
  DOCKER_DEFAULT_CAPABILITIES,
  normaliseCapability,
  processCapabilities,
} from './capabilities.js';

describe(computeCapabilities.name, () => {
  it('gives the 14 Docker defaults, which the kernel shows as CapEff 00000000a80425fb', () => {
    const caps = computeCapabilities();
    expect(caps).toHaveLength(14);
    expect(capabilityMask(caps)).toBe(0xa80425fbn);
  });

  it('drops and adds capabilities spelt in any case, with or without CAP_', () => {
    const caps = computeCapabilities({ capAdd: ['net_admin', 'CAP_SYS_TIME'], capDrop: ['chown', 'Cap_Mknod'] });
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).toContain('CAP_SYS_TIME');
    expect(caps).not.toContain('CAP_CHOWN');
    expect(caps).not.toContain('CAP_MKNOD');
    expect(caps).toHaveLength(14);
  });

  it('gives every capability but the dropped ones with --cap-add ALL', () => {
    const caps = computeCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] });
    expect(caps).toHaveLength(CAPABILITY_NAMES.length - 1);
    expect(caps).not.toContain('CAP_SYS_ADMIN');
  });

  it('gives only the added capabilities with --cap-drop ALL', () => {
    expect(computeCapabilities({ capDrop: ['all'], capAdd: ['NET_BIND_SERVICE'] })).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(computeCapabilities({ capDrop: ['ALL'] })).toEqual([]);
  });

  it('gives a privileged container everything the host offers, whatever is added or dropped', () => {
    const available = CAPABILITY_NAMES.filter((cap) => cap !== 'CAP_SYS_RESOURCE');
    const caps = computeCapabilities({ privileged: true, capDrop: ['CHOWN'], available });
    expect(caps).toEqual([...available]);
  });

  it('lists each capability once, in kernel order', () => {
    const caps = computeCapabilities({ capAdd: ['CHOWN', 'chown', 'NET_ADMIN'] });
    expect(new Set(caps).size).toBe(caps.length);
    expect(caps.map(capabilityNumber)).toEqual([...caps.map(capabilityNumber)].sort((a, b) => a - b));
  });

  it('rejects an unknown capability and names it', () => {
    expect(() => computeCapabilities({ capAdd: ['SYS_WIZARD'] })).toThrow('unknown capability: "SYS_WIZARD"');
  });
});

describe(normaliseCapability.name, () => {
  it('accepts ALL in any case', () => {
    expect(normaliseCapability('all')).toBe('ALL');
  });
});

describe(capabilityMask.name, () => {
  it('sets bit n for capability n, by name or number', () => {
    expect(capabilityMask(['CAP_CHOWN', 21, 'CAP_CHECKPOINT_RESTORE'])).toBe((1n << 0n) | (1n << 21n) | (1n << 40n));
  });

  it('rejects numbers outside 0…63', () => {
    expect(() => capabilityMask([64])).toThrow('invalid capability number: 64');
  });
});

describe(capabilitiesInMask.name, () => {
  it("names the capabilities of a CapBnd mask, e.g. a host's without CAP_SYS_RESOURCE", () => {
    const all = capabilityMask(CAPABILITY_NAMES);
    const names = capabilitiesInMask(all & ~(1n << 24n));
    expect(names).toHaveLength(CAPABILITY_NAMES.length - 1);
    expect(names).not.toContain('CAP_SYS_RESOURCE');
    expect(capabilitiesInMask(0x3n)).toEqual(['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  });
});

describe(processCapabilities.name, () => {
  it('keeps inheritable and ambient empty, as Docker does since CVE-2022-24769', () => {
    const sets = processCapabilities(DOCKER_DEFAULT_CAPABILITIES);
    expect(sets.inheritable).toEqual([]);
    expect(sets.ambient).toEqual([]);
    expect(sets.bounding).toEqual(sets.effective);
    expect(sets.permitted).toEqual(sets.effective);
  });
});
