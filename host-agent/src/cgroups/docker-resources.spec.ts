import { describe, expect, it } from 'vitest';

import { EngineError } from '../engine-error.js';
import {
  effectiveMemorySwap,
  mergeResourceUpdate,
  resourcesWithCreateDefaults,
  validateResources,
  type DockerResources,
} from './docker-resources.js';

const MiB = 1024 * 1024;

function refusal(resources: DockerResources): EngineError {
  try {
    validateResources(resources);
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(resources)}`);
}

/** What `docker run` sends when no limit is given (docker CLI 28). */
const CLI_DEFAULTS: DockerResources = {
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  BlkioWeight: 0,
  BlkioWeightDevice: [],
  BlkioDeviceReadBps: [],
  BlkioDeviceWriteBps: [],
  BlkioDeviceReadIOps: [],
  BlkioDeviceWriteIOps: [],
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: -1,
  OomKillDisable: false,
  PidsLimit: 0,
};

describe(validateResources.name, () => {
  it("accepts the docker CLI's body for a container without limits", () => {
    expect(() => validateResources(CLI_DEFAULTS)).not.toThrow();
  });

  it('accepts a typical set of limits', () => {
    expect(() =>
      validateResources({
        Memory: 512 * MiB,
        MemorySwap: 1024 * MiB,
        MemoryReservation: 256 * MiB,
        CpuShares: 512,
        NanoCpus: 1_500_000_000,
        CpusetCpus: '0-1,3',
        PidsLimit: 100,
        BlkioWeight: 300,
        BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1024 * 1024 }],
      }),
    ).not.toThrow();
  });

  it('refuses a memory limit below 6 MiB, like Docker', () => {
    expect(refusal({ Memory: 4 * MiB })).toMatchObject({
      kind: 'invalid-argument',
      message: 'memory limit (Memory) 4194304 is below the minimum of 6 MiB (6291456 bytes)',
    });
    expect(() => validateResources({ Memory: 6 * MiB })).not.toThrow();
  });

  it('refuses negative values with the field named', () => {
    expect(refusal({ Memory: -1 }).message).toContain('(Memory) -1');
    expect(refusal({ CpuShares: -5 }).message).toContain('(CpuShares) -5');
    expect(refusal({ NanoCpus: -1 }).message).toContain('(NanoCpus) -1');
    expect(refusal({ MemoryReservation: -1 }).message).toContain('(MemoryReservation) -1');
    expect(refusal({ PidsLimit: -2 }).message).toContain('(PidsLimit) -2');
    expect(refusal({ CpuQuota: -2 }).message).toContain('(CpuQuota) -2');
    expect(refusal({ BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: -1 }] }).message).toContain('/dev/sda');
  });

  it('takes -1 as unlimited for MemorySwap, CpuQuota and PidsLimit', () => {
    expect(() => validateResources({ Memory: 64 * MiB, MemorySwap: -1, CpuQuota: -1, PidsLimit: -1 })).not.toThrow();
  });

  it('refuses a memory+swap limit below the memory limit, or without one', () => {
    expect(refusal({ Memory: 64 * MiB, MemorySwap: 32 * MiB }).message).toMatch(/MemorySwap.*below the memory limit/);
    expect(refusal({ MemorySwap: 64 * MiB }).message).toMatch(/needs a memory limit/);
  });

  it('refuses a reservation above the memory limit', () => {
    expect(refusal({ Memory: 64 * MiB, MemoryReservation: 128 * MiB }).message).toMatch(
      /MemoryReservation.*above the memory limit/,
    );
  });

  it('refuses swappiness outside 0–100 but takes -1 and null as the default', () => {
    expect(refusal({ MemorySwappiness: 101 }).message).toContain('between 0 and 100');
    expect(() => validateResources({ MemorySwappiness: null })).not.toThrow();
    expect(() => validateResources({ MemorySwappiness: 0 })).not.toThrow();
  });

  it('refuses --cpus together with a CPU period or quota, and below 0.01 CPUs', () => {
    expect(refusal({ NanoCpus: 1e9, CpuQuota: 50_000 }).message).toContain('cannot both be set');
    expect(refusal({ NanoCpus: 1e9, CpuPeriod: 50_000 }).message).toContain('cannot both be set');
    expect(refusal({ NanoCpus: 1_000_000 }).message).toContain('0.01 CPUs');
  });

  it('refuses CPU periods outside 1 ms–1 s and quotas below 1 ms', () => {
    expect(refusal({ CpuPeriod: 999 }).message).toContain('between 1000 and 1000000');
    expect(refusal({ CpuPeriod: 1_000_001 }).message).toContain('between 1000 and 1000000');
    expect(refusal({ CpuQuota: 500 }).message).toContain('minimum of 1000');
  });

  it('refuses real-time CPU settings, which Skiff does not support', () => {
    expect(refusal({ CpuRealtimeRuntime: 950_000 }).message).toContain('not supported');
  });

  it('refuses malformed cpuset lists, naming the bad part', () => {
    expect(refusal({ CpusetCpus: '0-' }).message).toBe(
      'invalid CpusetCpus "0-": "0-" is neither a number nor a range such as 0-3',
    );
    expect(refusal({ CpusetCpus: '3-1' }).message).toContain('ends before it starts');
    expect(refusal({ CpusetMems: 'a' }).message).toContain('CpusetMems');
    expect(refusal({ CpusetCpus: '0-100000' }).message).toContain('above the highest supported id');
  });

  it('refuses block I/O weights outside 10–1000 and device paths that are not absolute', () => {
    expect(refusal({ BlkioWeight: 5 }).message).toContain('between 10 and 1000');
    expect(refusal({ BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 2000 }] }).message).toContain('/dev/sda');
    expect(refusal({ BlkioDeviceReadBps: [{ Path: 'sda', Rate: 1 }] }).message).toContain('absolute path');
  });

  it('refuses fractions', () => {
    expect(refusal({ Memory: 10 * MiB + 0.5 }).message).toContain('must be an integer');
  });
});

describe(effectiveMemorySwap.name, () => {
  it("gives a memory-limited container as much swap again by default (MemorySwap 0 → twice Memory), as Docker's daemon does", () => {
    expect(effectiveMemorySwap({ Memory: 64 * MiB })).toBe(128 * MiB);
    expect(effectiveMemorySwap({ Memory: 64 * MiB, MemorySwap: 0 })).toBe(128 * MiB);
  });

  it('keeps an explicit total, and -1 for unlimited', () => {
    expect(effectiveMemorySwap({ Memory: 64 * MiB, MemorySwap: 64 * MiB })).toBe(64 * MiB);
    expect(effectiveMemorySwap({ Memory: 64 * MiB, MemorySwap: -1 })).toBe(-1);
    expect(effectiveMemorySwap({})).toBe(0);
  });

  it('is what resourcesWithCreateDefaults stores for docker inspect', () => {
    expect(resourcesWithCreateDefaults({ Memory: 64 * MiB, MemorySwap: 0, PidsLimit: 5 })).toEqual({
      Memory: 64 * MiB,
      MemorySwap: 128 * MiB,
      PidsLimit: 5,
    });
  });
});

describe(mergeResourceUpdate.name, () => {
  const current: DockerResources = { ...CLI_DEFAULTS, Memory: 64 * MiB, MemorySwap: 128 * MiB, PidsLimit: 20 };

  it('replaces only the fields the update sets (0, empty and null mean unchanged)', () => {
    const merged = mergeResourceUpdate(current, {
      ...CLI_DEFAULTS,
      CpuShares: 512,
      PidsLimit: null,
      MemorySwappiness: null,
    });
    expect(merged).toMatchObject({ Memory: 64 * MiB, MemorySwap: 128 * MiB, CpuShares: 512, PidsLimit: 20 });
  });

  it('lowers the memory limit and keeps the memory+swap limit in force', () => {
    expect(mergeResourceUpdate(current, { Memory: 32 * MiB })).toMatchObject({
      Memory: 32 * MiB,
      MemorySwap: 128 * MiB,
    });
  });

  it('refuses a memory limit above the memory+swap limit unless MemorySwap is updated too', () => {
    expect(() => mergeResourceUpdate(current, { Memory: 256 * MiB })).toThrow(/update MemorySwap as well/);
    expect(mergeResourceUpdate(current, { Memory: 256 * MiB, MemorySwap: -1 })).toMatchObject({
      Memory: 256 * MiB,
      MemorySwap: -1,
    });
  });

  it("gives a container that had no memory limit Docker's default swap with its first one", () => {
    expect(mergeResourceUpdate(CLI_DEFAULTS, { Memory: 64 * MiB })).toMatchObject({
      Memory: 64 * MiB,
      MemorySwap: 128 * MiB,
    });
  });

  it('lifts the pids limit with -1', () => {
    expect(mergeResourceUpdate(current, { PidsLimit: -1 }).PidsLimit).toBe(-1);
  });

  it('refuses to switch between --cpus and a CPU quota or period', () => {
    expect(() => mergeResourceUpdate({ NanoCpus: 1e9 }, { CpuQuota: 50_000 })).toThrow(EngineError);
    expect(() => mergeResourceUpdate({ CpuQuota: 50_000 }, { NanoCpus: 1e9 })).toThrow(/CPU quota/);
    expect(() => mergeResourceUpdate({ CpuPeriod: 50_000 }, { NanoCpus: 1e9 })).toThrow(/CPU period/);
  });

  it('validates the merged whole', () => {
    expect(() => mergeResourceUpdate({ Memory: 64 * MiB, MemoryReservation: 32 * MiB }, { Memory: 16 * MiB })).toThrow(
      /above the memory limit/,
    );
  });
});
