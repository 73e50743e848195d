/** The parts of one Docker stats document (GET /containers/{id}/stats) the charts use. */
export interface DockerStats {
  read?: string;
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
}

interface CpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

/** One point of every chart. Rates are per second since the previous document. */
export interface StatsPoint {
  time: number;
  cpuPercent: number;
  memoryBytes: number;
  memoryLimit: number;
  rxPerSecond: number;
  txPerSecond: number;
  readPerSecond: number;
  writePerSecond: number;
}

/** Counters kept between documents, to turn totals into rates. */
export interface StatsTotals {
  time: number;
  rx: number;
  tx: number;
  read: number;
  write: number;
}

/**
 * CPU % as the docker CLI computes it: the container's share of the host's CPU time since the
 * previous sample (`precpu_stats`), times the number of CPUs; 100 % is one whole CPU.
 */
export function cpuPercent(stats: DockerStats): number {
  const cpu = stats.cpu_stats;
  const pre = stats.precpu_stats;
  const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  const cpus = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1;
  if (cpuDelta <= 0 || systemDelta <= 0) return 0;
  return (cpuDelta / systemDelta) * cpus * 100;
}

/** Memory as the docker CLI shows it: usage less the page cache (cgroup v1 `cache`, v2 `inactive_file`). */
export function memoryUsage(stats: DockerStats): number {
  const usage = stats.memory_stats?.usage ?? 0;
  const detail = stats.memory_stats?.stats ?? {};
  const cache = detail['total_inactive_file'] ?? detail['inactive_file'] ?? detail['cache'] ?? 0;
  return Math.max(0, cache < usage ? usage - cache : usage);
}

export function totalsOf(stats: DockerStats, time: number): StatsTotals {
  let rx = 0;
  let tx = 0;
  for (const network of Object.values(stats.networks ?? {})) {
    rx += network.rx_bytes ?? 0;
    tx += network.tx_bytes ?? 0;
  }
  let read = 0;
  let write = 0;
  for (const entry of stats.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = entry.op?.toLowerCase();
    if (op === 'read') read += entry.value ?? 0;
    else if (op === 'write') write += entry.value ?? 0;
  }
  return { time, rx, tx, read, write };
}

/** A chart point from a document and the totals of the one before (null for the first). */
export function toPoint(
  stats: DockerStats,
  previous: StatsTotals | null,
  now: number,
): { point: StatsPoint; totals: StatsTotals } {
  const time = stats.read ? Date.parse(stats.read) || now : now;
  const totals = totalsOf(stats, time);
  const seconds = previous ? Math.max((totals.time - previous.time) / 1000, 0.001) : 0;
  const rate = (current: number, before: number | undefined) =>
    previous && before !== undefined && seconds > 0 ? Math.max(0, current - before) / seconds : 0;
  return {
    totals,
    point: {
      time,
      cpuPercent: cpuPercent(stats),
      memoryBytes: memoryUsage(stats),
      memoryLimit: stats.memory_stats?.limit ?? 0,
      rxPerSecond: rate(totals.rx, previous?.rx),
      txPerSecond: rate(totals.tx, previous?.tx),
      readPerSecond: rate(totals.read, previous?.read),
      writePerSecond: rate(totals.write, previous?.write),
    },
  };
}
