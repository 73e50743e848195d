import { readFile } from 'node:fs/promises';
import type { CgroupManager } from '../cgroups/cgroup-manager.js';
import type { CgroupStats } from '../cgroups/cgroup-stats.js';
import type { ContainerRecord } from './container-record.js';
import { isRunning } from './container-state.js';

type NetworkStats = Record<
  string,
  {
    rx_bytes: number;
    rx_packets: number;
    rx_errors: number;
    rx_dropped: number;
    tx_bytes: number;
    tx_packets: number;
    tx_errors: number;
    tx_dropped: number;
  }
>;

export interface StatsSample {
  read: string;
  stats: CgroupStats | undefined;
  networks: NetworkStats;
}

/** One reading of a container's cgroup and network counters. */
export async function sampleStats(record: ContainerRecord, cgroups: CgroupManager): Promise<StatsSample> {
  const read = new Date().toISOString();
  if (!isRunning(record.state.status)) return { read, stats: undefined, networks: {} };
  const [stats, networks] = await Promise.all([
    cgroups
      .open(record.id)
      .stats()
      .catch(() => undefined),
    networkStats(record.state.pid),
  ]);
  return { read, stats, networks };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The Engine API's stats document from this sample and the one before (for CPU percentages). */
export function statsDocument(record: ContainerRecord, current: StatsSample, previous: StatsSample | undefined) {
  const empty = {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
  return {
    name: `/${record.name}`,
    id: record.id,
    read: current.stats ? current.read : ZERO_TIME,
    preread: previous?.stats ? previous.read : ZERO_TIME,
    pids_stats: current.stats?.pids_stats ?? {},
    blkio_stats: current.stats?.blkio_stats ?? { io_service_bytes_recursive: null, io_serviced_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: current.stats?.cpu_stats ?? empty,
    precpu_stats: previous?.stats?.cpu_stats ?? empty,
    memory_stats: current.stats?.memory_stats ?? {},
    ...(current.stats && Object.keys(current.networks).length ? { networks: current.networks } : {}),
  };
}

/** The container's interfaces, read from its network namespace through its pid 1. */
async function networkStats(pid: number): Promise<NetworkStats> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => '');
  const networks: NetworkStats = {};
  for (const line of text.split('\n').slice(2)) {
    const [name, counters] = line.split(':');
    if (!name || !counters || name.trim() === 'lo') continue;
    const values = counters.trim().split(/\s+/).map(Number);
    networks[name.trim()] = {
      rx_bytes: values[0] ?? 0,
      rx_packets: values[1] ?? 0,
      rx_errors: values[2] ?? 0,
      rx_dropped: values[3] ?? 0,
      tx_bytes: values[8] ?? 0,
      tx_packets: values[9] ?? 0,
      tx_errors: values[10] ?? 0,
      tx_dropped: values[11] ?? 0,
    };
  }
  return networks;
}
