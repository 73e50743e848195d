/**
 * A container's cgroup counters in the shape of the Engine API's ContainerStatsResponse
 * (cpu_stats, memory_stats, pids_stats, blkio_stats). The caller adds id, name, read, preread,
 * precpu_stats and networks. Files that do not exist (a controller the host lacks) leave their
 * fields out rather than failing the whole sample.
 */
import { join } from 'node:path';

import { readOptional, type CgroupFs } from './cgroup-fs.js';

export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CpuUsage {
  /** Nanoseconds. */
  total_usage: number;
  /** Nanoseconds per CPU; v1 only. */
  percpu_usage?: number[];
  usage_in_kernelmode: number;
  usage_in_usermode: number;
}

export interface ThrottlingData {
  periods: number;
  throttled_periods: number;
  /** Nanoseconds. */
  throttled_time: number;
}

export interface CpuStats {
  cpu_usage: CpuUsage;
  /** Nanoseconds of CPU time the whole host has spent, from /proc/stat. */
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: ThrottlingData;
}

export interface MemoryStats {
  usage?: number;
  /** v1 only. */
  max_usage?: number;
  /** Every counter of memory.stat; v1 and v2 have different keys. */
  stats?: Record<string, number>;
  /** v1 only. */
  failcnt?: number;
  limit?: number;
}

export interface PidsStats {
  current?: number;
  /** 0 means no limit. */
  limit?: number;
}

export interface BlkioStats {
  io_service_bytes_recursive: BlkioStatEntry[] | null;
  io_serviced_recursive: BlkioStatEntry[] | null;
  io_queue_recursive: BlkioStatEntry[] | null;
  io_service_time_recursive: BlkioStatEntry[] | null;
  io_wait_time_recursive: BlkioStatEntry[] | null;
  io_merged_recursive: BlkioStatEntry[] | null;
  io_time_recursive: BlkioStatEntry[] | null;
  sectors_recursive: BlkioStatEntry[] | null;
}

export interface CgroupStats {
  cpu_stats: CpuStats;
  memory_stats: MemoryStats;
  pids_stats: PidsStats;
  blkio_stats: BlkioStats;
}

export interface StatsSources {
  fs: CgroupFs;
  /** The text of /proc/stat. */
  procStat: () => Promise<string>;
  /** Bytes of RAM; an unlimited or larger memory limit is reported as this, as Docker does. */
  machineMemory: number;
}

/** USER_HZ: /proc/stat counts in these ticks. It is 100 on every Linux architecture Skiff runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface HostCpuSample {
  systemCpuUsage: number;
  onlineCpus: number;
}

/**
 * The host's total CPU time as Docker counts it (user, nice, system, idle, iowait, irq and softirq
 * of the `cpu` line, in nanoseconds) and the number of `cpuN` lines.
 */
export function parseProcStat(text: string): HostCpuSample {
  let systemCpuUsage = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'cpu') {
      const ticks = fields.slice(1, 8).reduce((sum, f) => sum + Number(f), 0);
      systemCpuUsage = (ticks * 1e9) / CLOCK_TICKS_PER_SECOND;
    } else if (/^cpu\d+$/.test(fields[0] ?? '')) {
      onlineCpus++;
    }
  }
  return { systemCpuUsage, onlineCpus };
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, …). */
export function parseFlatKeyed(text: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) values[key] = Number(value);
  }
  return values;
}

/** A v1 blkio file: `8:0 Read 4096` lines (or `8:0 4096` for counters without operations), then `Total n`. */
export function parseBlkioV1(text: string): BlkioStatEntry[] {
  const entries: BlkioStatEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const device = /^(\d+):(\d+)$/.exec(fields[0] ?? '');
    if (!device) continue;
    const [op, value] = fields.length >= 3 ? [fields[1] ?? '', fields[2]] : ['', fields[1]];
    if (value === undefined || !/^\d+$/.test(value)) continue;
    entries.push({ major: Number(device[1]), minor: Number(device[2]), op, value: Number(value) });
  }
  return entries;
}

/** v2 io.stat: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`, as read and write bytes. */
export function parseIoStat(text: string): BlkioStatEntry[] {
  const entries: BlkioStatEntry[] = [];
  for (const line of text.split('\n')) {
    const [deviceField, ...pairs] = line.trim().split(/\s+/);
    const device = /^(\d+):(\d+)$/.exec(deviceField ?? '');
    if (!device) continue;
    const values = Object.fromEntries(pairs.map((p) => p.split('=') as [string, string]));
    const major = Number(device[1]);
    const minor = Number(device[2]);
    entries.push({ major, minor, op: 'read', value: Number(values.rbytes ?? 0) });
    entries.push({ major, minor, op: 'write', value: Number(values.wbytes ?? 0) });
  }
  return entries;
}

function parseNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

/** A memory limit as Docker reports it: never above the machine's memory. */
function reportedLimit(limit: number | undefined, machineMemory: number): number | undefined {
  if (limit === undefined) return machineMemory > 0 ? machineMemory : undefined;
  return machineMemory > 0 ? Math.min(limit, machineMemory) : limit;
}

/** pids.max: a number, or `max` for no limit (reported as 0). */
function pidsLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return text.trim() === 'max' ? 0 : parseNumber(text);
}

async function hostCpu(sources: StatsSources): Promise<Partial<HostCpuSample>> {
  try {
    return parseProcStat(await sources.procStat());
  } catch {
    return {};
  }
}

export interface V1StatsDirs {
  cpu?: string;
  cpuacct?: string;
  memory?: string;
  pids?: string;
  blkio?: string;
}

export async function readV1Stats(dirs: V1StatsDirs, sources: StatsSources): Promise<CgroupStats> {
  const read = (dir: string | undefined, file: string) =>
    dir === undefined ? Promise.resolve(undefined) : readOptional(sources.fs, join(dir, file));
  const [usage, percpu, usageUser, usageSys, cpuacctStat, cpuStat, host] = await Promise.all([
    read(dirs.cpuacct, 'cpuacct.usage'),
    read(dirs.cpuacct, 'cpuacct.usage_percpu'),
    read(dirs.cpuacct, 'cpuacct.usage_user'),
    read(dirs.cpuacct, 'cpuacct.usage_sys'),
    read(dirs.cpuacct, 'cpuacct.stat'),
    read(dirs.cpu, 'cpu.stat'),
    hostCpu(sources),
  ]);
  // cpuacct.usage_user and _sys (Linux 4.7+) count nanoseconds; cpuacct.stat only ticks.
  const ticks = parseFlatKeyed(cpuacctStat ?? '');
  const tickNs = 1e9 / CLOCK_TICKS_PER_SECOND;
  const throttling = parseFlatKeyed(cpuStat ?? '');
  const cpu_stats: CpuStats = {
    cpu_usage: {
      total_usage: parseNumber(usage) ?? 0,
      ...(percpu === undefined ? {} : { percpu_usage: percpu.trim().split(/\s+/).filter(Boolean).map(Number) }),
      usage_in_kernelmode: parseNumber(usageSys) ?? (ticks.system ?? 0) * tickNs,
      usage_in_usermode: parseNumber(usageUser) ?? (ticks.user ?? 0) * tickNs,
    },
    ...(host.systemCpuUsage === undefined ? {} : { system_cpu_usage: host.systemCpuUsage }),
    ...(host.onlineCpus === undefined ? {} : { online_cpus: host.onlineCpus }),
    throttling_data: {
      periods: throttling.nr_periods ?? 0,
      throttled_periods: throttling.nr_throttled ?? 0,
      throttled_time: throttling.throttled_time ?? 0,
    },
  };

  const [memUsage, memMax, memFailcnt, memLimit, memStat] = await Promise.all([
    read(dirs.memory, 'memory.usage_in_bytes'),
    read(dirs.memory, 'memory.max_usage_in_bytes'),
    read(dirs.memory, 'memory.failcnt'),
    read(dirs.memory, 'memory.limit_in_bytes'),
    read(dirs.memory, 'memory.stat'),
  ]);
  const memory_stats: MemoryStats =
    dirs.memory === undefined
      ? {}
      : withoutUndefined({
          usage: parseNumber(memUsage),
          max_usage: parseNumber(memMax),
          stats: memStat === undefined ? undefined : parseFlatKeyed(memStat),
          failcnt: parseNumber(memFailcnt),
          limit: reportedLimit(parseNumber(memLimit), sources.machineMemory),
        });

  const [pidsCurrent, pidsMax] = await Promise.all([read(dirs.pids, 'pids.current'), read(dirs.pids, 'pids.max')]);
  const pids_stats: PidsStats = withoutUndefined({ current: parseNumber(pidsCurrent), limit: pidsLimit(pidsMax) });

  return { cpu_stats, memory_stats, pids_stats, blkio_stats: await readV1Blkio(dirs.blkio, sources.fs) };
}

/** The v1 blkio files of each I/O policy, and the stats field each fills. */
const CFQ_FILES: [keyof BlkioStats, string][] = [
  ['io_service_bytes_recursive', 'blkio.io_service_bytes_recursive'],
  ['io_serviced_recursive', 'blkio.io_serviced_recursive'],
  ['io_queue_recursive', 'blkio.io_queued_recursive'],
  ['io_service_time_recursive', 'blkio.io_service_time_recursive'],
  ['io_wait_time_recursive', 'blkio.io_wait_time_recursive'],
  ['io_merged_recursive', 'blkio.io_merged_recursive'],
  ['io_time_recursive', 'blkio.time_recursive'],
  ['sectors_recursive', 'blkio.sectors_recursive'],
];

const BFQ_FILES: [keyof BlkioStats, string][] = [
  ['io_service_bytes_recursive', 'blkio.bfq.io_service_bytes_recursive'],
  ['io_serviced_recursive', 'blkio.bfq.io_serviced_recursive'],
];

const THROTTLE_FILES: [keyof BlkioStats, string][] = [
  ['io_service_bytes_recursive', 'blkio.throttle.io_service_bytes_recursive'],
  ['io_serviced_recursive', 'blkio.throttle.io_serviced_recursive'],
];

function emptyBlkio(): BlkioStats {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

/**
 * The scheduler's own counters (CFQ, else BFQ) where they have entries; else the throttle layer's,
 * which count I/O on every device whatever its scheduler (`none` and mq-deadline keep no stats).
 */
async function readV1Blkio(dir: string | undefined, fs: CgroupFs): Promise<BlkioStats> {
  const stats = emptyBlkio();
  if (dir === undefined) return stats;
  for (const files of [CFQ_FILES, BFQ_FILES, THROTTLE_FILES]) {
    const [, firstFile] = files[0];
    const first = await readOptional(fs, join(dir, firstFile));
    if (first === undefined) continue;
    const entries = parseBlkioV1(first);
    if (entries.length === 0 && files !== THROTTLE_FILES) continue;
    for (const [field, file] of files) {
      const text = file === firstFile ? first : await readOptional(fs, join(dir, file));
      stats[field] = text === undefined ? null : parseBlkioV1(text);
    }
    return stats;
  }
  return stats;
}

export async function readV2Stats(dir: string, sources: StatsSources): Promise<CgroupStats> {
  const read = (file: string) => readOptional(sources.fs, join(dir, file));
  const [cpuStat, memCurrent, memMax, memStat, pidsCurrent, pidsMax, ioStat, host] = await Promise.all([
    read('cpu.stat'),
    read('memory.current'),
    read('memory.max'),
    read('memory.stat'),
    read('pids.current'),
    read('pids.max'),
    read('io.stat'),
    hostCpu(sources),
  ]);
  const cpu = parseFlatKeyed(cpuStat ?? '');
  const cpu_stats: CpuStats = {
    cpu_usage: {
      total_usage: (cpu.usage_usec ?? 0) * 1000,
      usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000,
      usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
    },
    ...(host.systemCpuUsage === undefined ? {} : { system_cpu_usage: host.systemCpuUsage }),
    ...(host.onlineCpus === undefined ? {} : { online_cpus: host.onlineCpus }),
    throttling_data: {
      periods: cpu.nr_periods ?? 0,
      throttled_periods: cpu.nr_throttled ?? 0,
      throttled_time: (cpu.throttled_usec ?? 0) * 1000,
    },
  };
  const memory_stats: MemoryStats =
    memCurrent === undefined
      ? {}
      : withoutUndefined({
          usage: parseNumber(memCurrent),
          stats: memStat === undefined ? undefined : parseFlatKeyed(memStat),
          limit: reportedLimit(parseNumber(memMax), sources.machineMemory),
        });
  const pids_stats: PidsStats = withoutUndefined({ current: parseNumber(pidsCurrent), limit: pidsLimit(pidsMax) });
  const blkio_stats = emptyBlkio();
  if (ioStat !== undefined) blkio_stats.io_service_bytes_recursive = parseIoStat(ioStat);
  return { cpu_stats, memory_stats, pids_stats, blkio_stats };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
