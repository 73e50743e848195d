import type { HostInventory } from '@skiff/protocol';
import { describe, expect, it } from 'vitest';

import { usageLines } from './host-usage';

const GIB = 1024 ** 3;

const inventory = (memoryBytes: number, usage?: HostInventory['usage']): HostInventory => ({
  hostname: 'web-01',
  os: 'Debian GNU/Linux 12 (bookworm)',
  kernel: '6.1.0',
  architecture: 'x64',
  cpus: 2,
  memoryBytes,
  cgroupVersion: 'v2',
  agentVersion: '0.1.0',
  ...(usage ? { usage } : {}),
});

describe(usageLines.name, () => {
  it('shows memory available and disk free with how full each is', () => {
    const lines = usageLines(
      inventory(16 * GIB, {
        memoryAvailableBytes: 4 * GIB,
        diskTotalBytes: 100 * GIB,
        diskFreeBytes: 40 * GIB,
        load1: 0.5,
      }),
    );
    expect(lines).toEqual([
      { resource: 'memory', label: 'Memory', usedPercent: 75, text: '4 GiB available of 16 GiB', pressure: false },
      { resource: 'disk', label: 'Disk', usedPercent: 60, text: '40 GiB free of 100 GiB', pressure: false },
    ]);
  });

  it('flags the resource that runs short (under a tenth left) and only that one', () => {
    const lines = usageLines(
      inventory(10 * GIB, {
        memoryAvailableBytes: 0.5 * GIB,
        diskTotalBytes: 100 * GIB,
        diskFreeBytes: 50 * GIB,
        load1: 0,
      }),
    );
    expect(lines.map((line) => [line.resource, line.pressure, line.usedPercent])).toEqual([
      ['memory', true, 95],
      ['disk', false, 50],
    ]);
  });

  it('shows nothing for a host whose agent has not reported usage', () => {
    expect(usageLines(null)).toEqual([]);
    expect(usageLines(undefined)).toEqual([]);
    expect(usageLines(inventory(16 * GIB))).toEqual([]);
  });

  it('leaves out a resource whose total is unknown', () => {
    const lines = usageLines(inventory(0, { memoryAvailableBytes: 0, diskTotalBytes: 0, diskFreeBytes: 0, load1: 0 }));
    expect(lines).toEqual([]);
    const diskOnly = usageLines(
      inventory(0, { memoryAvailableBytes: 0, diskTotalBytes: 10 * GIB, diskFreeBytes: 10 * GIB, load1: 0 }),
    );
    expect(diskOnly.map((line) => line.resource)).toEqual(['disk']);
    expect(diskOnly[0]!.usedPercent).toBe(0);
  });

  it('keeps the bar between 0 and 100 when the figures disagree', () => {
    const [memory] = usageLines(
      inventory(GIB, { memoryAvailableBytes: 2 * GIB, diskTotalBytes: 0, diskFreeBytes: 0, load1: 0 }),
    );
    expect(memory!.usedPercent).toBe(0);
  });
});
