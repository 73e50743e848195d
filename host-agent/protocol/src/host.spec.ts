import { describe, expect, it } from 'vitest';
import { type HostInventory, hostPressure } from './host.js';

const inventory = (usage?: HostInventory['usage']): HostInventory => ({
  hostname: 'web-01',
  os: 'Debian GNU/Linux 12 (bookworm)',
  kernel: '6.18.0',
  architecture: 'x64',
  cpus: 2,
  memoryBytes: 1000,
  cgroupVersion: 'v2',
  agentVersion: '0.1.0',
  ...(usage ? { usage } : {}),
});

describe(hostPressure.name, () => {
  it('names memory below a tenth available and disk below a tenth free', () => {
    expect(
      hostPressure(inventory({ memoryAvailableBytes: 99, diskTotalBytes: 1000, diskFreeBytes: 100, load1: 0 })),
    ).toEqual(['memory']);
    expect(
      hostPressure(inventory({ memoryAvailableBytes: 100, diskTotalBytes: 1000, diskFreeBytes: 99, load1: 0 })),
    ).toEqual(['disk']);
    expect(
      hostPressure(inventory({ memoryAvailableBytes: 5, diskTotalBytes: 1000, diskFreeBytes: 5, load1: 9 })),
    ).toEqual(['memory', 'disk']);
  });

  it('finds none without usage figures or with plenty to spare', () => {
    expect(hostPressure(null)).toEqual([]);
    expect(hostPressure(inventory())).toEqual([]);
    expect(
      hostPressure(inventory({ memoryAvailableBytes: 500, diskTotalBytes: 0, diskFreeBytes: 0, load1: 0 })),
    ).toEqual([]);
  });
});
