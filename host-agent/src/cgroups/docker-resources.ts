/**
 * The resource fields of the Engine API's HostConfig (definitions/Resources) that cgroups carry
 * out, with the checks Docker makes before it creates or updates a container. HostConfig itself
 * is assignable to DockerResources, so callers pass it as it arrived.
 */
import { invalidArgument } from '../engine-error.js';
import { parseCpuList } from './cpu-list.js';

export interface ThrottleDevice {
  Path: string;
  /** Bytes or I/O operations per second; 0 removes the limit. */
  Rate: number;
}

export interface WeightDevice {
  Path: string;
  Weight: number;
}

export interface DockerResources {
  /** Bytes; 0 = no limit. */
  Memory?: number;
  /** Memory plus swap, in bytes; -1 = unlimited swap; 0 = Docker's default, twice Memory. */
  MemorySwap?: number;
  /** Soft limit in bytes; 0 = none. */
  MemoryReservation?: number;
  /** 0–100; -1 or null = the kernel's default. */
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  /** Relative weight, 1024 being the default; 0 = default. */
  CpuShares?: number;
  /** `--cpus` in billionths of a CPU; 0 = no limit. */
  NanoCpus?: number;
  /** Microseconds; 0 = the kernel's default (100 ms). */
  CpuPeriod?: number;
  /** Microseconds per period; 0 = not set, -1 = no limit. */
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  /** 0 or -1 = unlimited; null or absent = unchanged. */
  PidsLimit?: number | null;
  /** 10–1000; 0 = default. */
  BlkioWeight?: number;
  BlkioWeightDevice?: WeightDevice[] | null;
  BlkioDeviceReadBps?: ThrottleDevice[] | null;
  BlkioDeviceWriteBps?: ThrottleDevice[] | null;
  BlkioDeviceReadIOps?: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null;
}

/** Docker refuses memory limits and reservations below 6 MiB: a container cannot start in less. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
export const DEFAULT_CPU_PERIOD_US = 100_000;
export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262_144;

const INTEGER_FIELDS = [
  'Memory',
  'MemorySwap',
  'MemoryReservation',
  'MemorySwappiness',
  'CpuShares',
  'NanoCpus',
  'CpuPeriod',
  'CpuQuota',
  'CpuRealtimePeriod',
  'CpuRealtimeRuntime',
  'PidsLimit',
  'BlkioWeight',
] as const satisfies readonly (keyof DockerResources)[];

export const THROTTLE_FIELDS = [
  'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps',
  'BlkioDeviceWriteIOps',
] as const satisfies readonly (keyof DockerResources)[];

export type ThrottleField = (typeof THROTTLE_FIELDS)[number];

/**
 * Throws an `invalid-argument` EngineError naming the first field that Docker would refuse. Checks
 * that depend on the host (how many CPUs, which controllers) are made by the planner.
 */
export function validateResources(resources: DockerResources): void {
  for (const field of INTEGER_FIELDS) {
    const value = resources[field];
    if (value !== undefined && value !== null && !Number.isSafeInteger(value)) {
      throw invalidArgument(`invalid ${field} ${String(value)}: it must be an integer`);
    }
  }
  const memory = resources.Memory ?? 0;
  const swap = resources.MemorySwap ?? 0;
  const reservation = resources.MemoryReservation ?? 0;
  if (memory < 0) throw invalidArgument(`invalid memory limit (Memory) ${memory}: it must not be negative`);
  if (memory > 0 && memory < MIN_MEMORY_BYTES) {
    throw invalidArgument(`memory limit (Memory) ${memory} is below the minimum of 6 MiB (${MIN_MEMORY_BYTES} bytes)`);
  }
  if (swap < -1) throw invalidArgument(`invalid memory+swap limit (MemorySwap) ${swap}: use -1 for unlimited swap`);
  if (swap > 0 && memory === 0) {
    throw invalidArgument(`a memory+swap limit (MemorySwap ${swap}) needs a memory limit (Memory) as well`);
  }
  if (swap > 0 && swap < memory) {
    throw invalidArgument(
      `memory+swap limit (MemorySwap) ${swap} is below the memory limit (Memory) ${memory}: it counts memory and swap together`,
    );
  }
  if (reservation < 0) {
    throw invalidArgument(`invalid memory reservation (MemoryReservation) ${reservation}: it must not be negative`);
  }
  if (reservation > 0 && reservation < MIN_MEMORY_BYTES) {
    throw invalidArgument(
      `memory reservation (MemoryReservation) ${reservation} is below the minimum of 6 MiB (${MIN_MEMORY_BYTES} bytes)`,
    );
  }
  if (memory > 0 && reservation > memory) {
    throw invalidArgument(
      `memory reservation (MemoryReservation) ${reservation} is above the memory limit (Memory) ${memory}`,
    );
  }
  const swappiness = resources.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw invalidArgument(`invalid memory swappiness (MemorySwappiness) ${swappiness}: it must be between 0 and 100`);
  }

  const shares = resources.CpuShares ?? 0;
  const nanoCpus = resources.NanoCpus ?? 0;
  const period = resources.CpuPeriod ?? 0;
  const quota = resources.CpuQuota ?? 0;
  if (shares < 0) throw invalidArgument(`invalid CPU shares (CpuShares) ${shares}: they must not be negative`);
  if (nanoCpus < 0) throw invalidArgument(`invalid number of CPUs (NanoCpus) ${nanoCpus}: it must not be negative`);
  if (nanoCpus > 0 && nanoCpus < 10_000_000) {
    throw invalidArgument(`number of CPUs (NanoCpus) ${nanoCpus} is below the minimum of 0.01 CPUs (10000000)`);
  }
  if (nanoCpus > 0 && period !== 0) {
    throw invalidArgument('number of CPUs (NanoCpus) and CPU period (CpuPeriod) cannot both be set');
  }
  if (nanoCpus > 0 && quota !== 0) {
    throw invalidArgument('number of CPUs (NanoCpus) and CPU quota (CpuQuota) cannot both be set');
  }
  if (period !== 0 && (period < 1000 || period > 1_000_000)) {
    throw invalidArgument(`invalid CPU period (CpuPeriod) ${period}: it must be between 1000 and 1000000 microseconds`);
  }
  if (quota < -1) throw invalidArgument(`invalid CPU quota (CpuQuota) ${quota}: use -1 for no limit`);
  if (quota > 0 && quota < 1000) {
    throw invalidArgument(`CPU quota (CpuQuota) ${quota} is below the minimum of 1000 microseconds`);
  }
  if ((resources.CpuRealtimePeriod ?? 0) !== 0 || (resources.CpuRealtimeRuntime ?? 0) !== 0) {
    throw invalidArgument('real-time CPU scheduling (CpuRealtimePeriod, CpuRealtimeRuntime) is not supported');
  }
  for (const field of ['CpusetCpus', 'CpusetMems'] as const) {
    const list = resources[field];
    if (list === undefined || list === '') continue;
    const parsed = parseCpuList(list);
    if ('error' in parsed) throw invalidArgument(`invalid ${field} "${list}": ${parsed.error}`);
  }

  const pids = resources.PidsLimit;
  if (pids !== undefined && pids !== null && pids < -1) {
    throw invalidArgument(`invalid pids limit (PidsLimit) ${pids}: use 0 or -1 for unlimited`);
  }

  const weight = resources.BlkioWeight ?? 0;
  if (weight !== 0 && (weight < 10 || weight > 1000)) {
    throw invalidArgument(`invalid block I/O weight (BlkioWeight) ${weight}: it must be between 10 and 1000`);
  }
  for (const device of resources.BlkioWeightDevice ?? []) {
    checkDevicePath('BlkioWeightDevice', device.Path);
    if (!Number.isSafeInteger(device.Weight) || device.Weight < 10 || device.Weight > 1000) {
      throw invalidArgument(
        `invalid block I/O weight (BlkioWeightDevice) ${device.Weight} for ${device.Path}: it must be between 10 and 1000`,
      );
    }
  }
  for (const field of THROTTLE_FIELDS) {
    for (const device of resources[field] ?? []) {
      checkDevicePath(field, device.Path);
      if (!Number.isSafeInteger(device.Rate) || device.Rate < 0) {
        throw invalidArgument(
          `invalid rate (${field}) ${device.Rate} for ${device.Path}: it must be a positive integer`,
        );
      }
    }
  }
}

function checkDevicePath(field: string, path: unknown): void {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw invalidArgument(`invalid device path (${field}) ${JSON.stringify(path)}: it must be an absolute path`);
  }
}

/** MemorySwap as it takes effect: Docker gives a container with a memory limit as much swap again by default. */
export function effectiveMemorySwap(resources: DockerResources): number {
  const memory = resources.Memory ?? 0;
  const swap = resources.MemorySwap ?? 0;
  return swap === 0 && memory > 0 ? memory * 2 : swap;
}

/** The resources as `docker inspect` shows them after create: Docker stores the default swap limit. */
export function resourcesWithCreateDefaults<T extends DockerResources>(resources: T): T {
  const swap = effectiveMemorySwap(resources);
  return swap === (resources.MemorySwap ?? 0) ? resources : { ...resources, MemorySwap: swap };
}

/** CPU shares as the kernel keeps them (v1 clamps to 2–262144; v2's conversion needs the same range). */
export function clampCpuShares(shares: number): number {
  return Math.min(MAX_CPU_SHARES, Math.max(MIN_CPU_SHARES, shares));
}

/**
 * `docker update`: the fields of `update` that are set replace those of `current` (0, '' and
 * null mean "unchanged", as in Docker), with Docker's refusals for combinations that would leave
 * the container's limits contradicting each other. The result is validated as a whole.
 */
export function mergeResourceUpdate<T extends DockerResources>(current: T, update: DockerResources): T {
  validateResources(update);
  if ((update.NanoCpus ?? 0) > 0 && (current.CpuPeriod ?? 0) > 0) {
    throw invalidArgument('cannot set the number of CPUs (NanoCpus): the container has a CPU period (CpuPeriod)');
  }
  if ((update.NanoCpus ?? 0) > 0 && (current.CpuQuota ?? 0) > 0) {
    throw invalidArgument('cannot set the number of CPUs (NanoCpus): the container has a CPU quota (CpuQuota)');
  }
  if ((update.CpuPeriod ?? 0) > 0 && (current.NanoCpus ?? 0) > 0) {
    throw invalidArgument('cannot set a CPU period (CpuPeriod): the container has a number of CPUs (NanoCpus)');
  }
  if ((update.CpuQuota ?? 0) > 0 && (current.NanoCpus ?? 0) > 0) {
    throw invalidArgument('cannot set a CPU quota (CpuQuota): the container has a number of CPUs (NanoCpus)');
  }
  const merged: T = { ...current };
  const memory = update.Memory ?? 0;
  if (memory !== 0) {
    const currentSwap = effectiveMemorySwap(current);
    if ((update.MemorySwap ?? 0) === 0 && currentSwap > 0 && memory > currentSwap) {
      throw invalidArgument(
        `memory limit (Memory) ${memory} is above the container's memory+swap limit (MemorySwap) ${currentSwap}: update MemorySwap as well`,
      );
    }
    merged.Memory = memory;
    // A default swap limit (MemorySwap 0) was twice the old Memory; keep what was in force.
    if ((current.MemorySwap ?? 0) === 0 && currentSwap > 0) merged.MemorySwap = currentSwap;
  }
  for (const field of [
    'MemorySwap',
    'MemoryReservation',
    'CpuShares',
    'NanoCpus',
    'CpuPeriod',
    'CpuQuota',
    'BlkioWeight',
  ] as const) {
    const value = update[field];
    if (value !== undefined && value !== 0) merged[field] = value;
  }
  if (update.CpusetCpus) merged.CpusetCpus = update.CpusetCpus;
  if (update.CpusetMems) merged.CpusetMems = update.CpusetMems;
  if (update.PidsLimit !== undefined && update.PidsLimit !== null) merged.PidsLimit = update.PidsLimit;
  validateResources(merged);
  return resourcesWithCreateDefaults(merged);
}
