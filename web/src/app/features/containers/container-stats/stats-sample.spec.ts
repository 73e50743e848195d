import { describe, expect, it } from 'vitest';

import { type DockerStats, cpuPercent, memoryUsage, toPoint } from './stats-sample';

const sample = (changes: Partial<DockerStats> = {}): DockerStats => ({
  read: '2025-01-01T00:00:02Z',
  cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 4 },
  precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 10_000 },
  memory_stats: { usage: 100 * 1024 ** 2, limit: 512 * 1024 ** 2, stats: { inactive_file: 20 * 1024 ** 2 } },
  networks: { eth0: { rx_bytes: 5_000, tx_bytes: 1_000 }, eth1: { rx_bytes: 1_000, tx_bytes: 0 } },
  blkio_stats: {
    io_service_bytes_recursive: [
      { op: 'Read', value: 4_096 },
      { op: 'write', value: 8_192 },
      { op: 'Total', value: 12_288 },
    ],
  },
  ...changes,
});

describe(cpuPercent.name, () => {
  it('is the share of host CPU time since the previous sample times the CPUs, as the docker CLI shows', () => {
    // 2000 of 10000 ns of system time on 4 CPUs: 80 %.
    expect(cpuPercent(sample())).toBeCloseTo(80);
  });

  it('counts the per-CPU figures when online_cpus is missing', () => {
    const stats = sample({
      cpu_stats: { cpu_usage: { total_usage: 3_000, percpu_usage: [1, 2] }, system_cpu_usage: 20_000 },
    });
    expect(cpuPercent(stats)).toBeCloseTo(40);
  });

  it('is 0 when no CPU time passed between the samples, or there are no figures', () => {
    expect(cpuPercent(sample({ precpu_stats: sample().cpu_stats! }))).toBe(0);
    expect(cpuPercent({})).toBe(0);
  });
});

describe(memoryUsage.name, () => {
  it('leaves the page cache out (cgroup v2 inactive_file, v1 cache)', () => {
    expect(memoryUsage(sample())).toBe(80 * 1024 ** 2);
    expect(memoryUsage(sample({ memory_stats: { usage: 1_000, stats: { cache: 300 } } }))).toBe(700);
    expect(
      memoryUsage(sample({ memory_stats: { usage: 1_000, stats: { total_inactive_file: 100, cache: 300 } } })),
    ).toBe(900);
  });

  it('shows the whole usage when the cache figure is larger than it', () => {
    expect(memoryUsage(sample({ memory_stats: { usage: 100, stats: { inactive_file: 500 } } }))).toBe(100);
    expect(memoryUsage({})).toBe(0);
  });
});

describe(toPoint.name, () => {
  it('has no rates for the first document and rates per second after', () => {
    const first = toPoint(sample({ read: '2025-01-01T00:00:00Z' }), null, 0);
    expect(first.point).toMatchObject({ rxPerSecond: 0, txPerSecond: 0, readPerSecond: 0, writePerSecond: 0 });
    expect(first.totals).toEqual({
      time: Date.parse('2025-01-01T00:00:00Z'),
      rx: 6_000,
      tx: 1_000,
      read: 4_096,
      write: 8_192,
    });

    const second = toPoint(
      sample({
        networks: { eth0: { rx_bytes: 10_000, tx_bytes: 2_000 }, eth1: { rx_bytes: 2_000, tx_bytes: 0 } },
        blkio_stats: { io_service_bytes_recursive: [{ op: 'read', value: 8_192 }] },
      }),
      first.totals,
      0,
    );
    // Two seconds later: 6000 more bytes received, 1000 more sent, 4096 more read; writes went "down" (a new cgroup).
    expect(second.point).toMatchObject({
      time: Date.parse('2025-01-01T00:00:02Z'),
      memoryBytes: 80 * 1024 ** 2,
      memoryLimit: 512 * 1024 ** 2,
      rxPerSecond: 3_000,
      txPerSecond: 500,
      readPerSecond: 2_048,
      writePerSecond: 0,
    });
  });

  it('takes the time of the page when the document has none', () => {
    expect(toPoint(sample({ read: undefined }), null, 1234).point.time).toBe(1234);
    expect(toPoint(sample({ read: 'garbage' }), null, 99).point.time).toBe(99);
  });
});
