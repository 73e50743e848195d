import { describe, expect, it } from 'vitest';
import { parseInventory } from './host-inventory.js';

const valid = {
  hostname: 'web-01',
  os: 'Debian GNU/Linux 12 (bookworm)',
  kernel: '6.18.0',
  architecture: 'x64',
  cpus: 2,
  memoryBytes: 25769803776,
  cgroupVersion: 'v2',
  agentVersion: '0.1.0',
};

describe('parseInventory', () => {
  it('keeps exactly the known fields of a valid inventory', () => {
    expect(parseInventory({ ...valid, extra: 'dropped' })).toEqual(valid);
  });

  it('keeps the usage figures, and only them', () => {
    const usage = { memoryAvailableBytes: 1024, diskTotalBytes: 4096, diskFreeBytes: 2048, load1: 0.37 };
    expect(parseInventory({ ...valid, usage: { ...usage, path: '/var/lib/skiff' } })).toEqual({ ...valid, usage });
  });

  it.each([
    [{ ...valid, usage: 'lots' }, /inventory\.usage must be an object/],
    [
      { ...valid, usage: { memoryAvailableBytes: -1, diskTotalBytes: 1, diskFreeBytes: 1, load1: 0 } },
      /memoryAvailableBytes/,
    ],
    [
      { ...valid, usage: { memoryAvailableBytes: 1, diskTotalBytes: 1, diskFreeBytes: 2, load1: 0 } },
      /diskFreeBytes cannot be more/,
    ],
    [{ ...valid, usage: { memoryAvailableBytes: 1, diskTotalBytes: 1, diskFreeBytes: 1, load1: 'high' } }, /load1/],
    [{ ...valid, cpus: -1 }, /inventory\.cpus/],
    [{ ...valid, cpus: 1.5 }, /inventory\.cpus/],
    [{ ...valid, hostname: 42 }, /inventory\.hostname/],
    [{ ...valid, os: 'x'.repeat(300) }, /inventory\.os/],
    [{ ...valid, cgroupVersion: 'v3' }, /cgroupVersion/],
    [null, /must be an object/],
  ])('refuses %j', (input, message) => {
    expect(() => parseInventory(input)).toThrow(message);
  });
});
