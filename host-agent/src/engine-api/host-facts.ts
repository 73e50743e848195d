import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseOsRelease } from '../plane/inventory.js';

/** Where the host's facts are read; a test points these into a temporary directory. */
export interface HostFactSources {
  /** Tried in order, as os-release(5) says. */
  osReleaseFiles: readonly string[];
  cgroupRoot: string;
  procRoot: string;
  /** Says `Y` when AppArmor is on. */
  apparmorFile: string;
}

export const HOST_FACT_SOURCES: HostFactSources = {
  osReleaseFiles: ['/etc/os-release', '/usr/lib/os-release'],
  cgroupRoot: '/sys/fs/cgroup',
  procRoot: '/proc',
  apparmorFile: '/sys/module/apparmor/parameters/enabled',
};

/** What the kernel's cgroups let the engine limit; `docker info` warns about each one missing. */
export interface CgroupFeatures {
  memoryLimit: boolean;
  swapLimit: boolean;
  cpuCfsPeriod: boolean;
  cpuCfsQuota: boolean;
  cpuShares: boolean;
  cpuSet: boolean;
  pidsLimit: boolean;
  oomKillDisable: boolean;
}

/** The host as `GET /info` and `GET /version` describe it. */
export interface HostFacts {
  hostname: string;
  kernelVersion: string;
  /** PRETTY_NAME of os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
  operatingSystem: string;
  /** VERSION_ID of os-release, e.g. "12". */
  osVersion: string;
  /** `uname -m`: "x86_64", "aarch64". */
  machine: string;
  cpus: number;
  memoryBytes: number;
  cgroupVersion: '1' | '2';
  cgroup: CgroupFeatures;
  ipv4Forwarding: boolean;
  bridgeNfIptables: boolean;
  bridgeNfIp6tables: boolean;
  seccomp: boolean;
  apparmor: boolean;
}

export async function collectHostFacts(sources: HostFactSources = HOST_FACT_SOURCES): Promise<HostFacts> {
  const release = await readOsRelease(sources.osReleaseFiles);
  const cgroupVersion = (await exists(join(sources.cgroupRoot, 'cgroup.controllers'))) ? '2' : '1';
  const proc = (path: string) => join(sources.procRoot, path);
  return {
    hostname: os.hostname(),
    kernelVersion: os.release(),
    operatingSystem: release['PRETTY_NAME'] || release['NAME'] || os.type(),
    osVersion: release['VERSION_ID'] ?? '',
    machine: os.machine(),
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    cgroupVersion,
    cgroup:
      cgroupVersion === '2' ? await cgroupV2Features(sources.cgroupRoot) : await cgroupV1Features(sources.cgroupRoot),
    ipv4Forwarding: (await readTrimmed(proc('sys/net/ipv4/ip_forward'))) === '1',
    bridgeNfIptables: (await readTrimmed(proc('sys/net/bridge/bridge-nf-call-iptables'))) === '1',
    bridgeNfIp6tables: (await readTrimmed(proc('sys/net/bridge/bridge-nf-call-ip6tables'))) === '1',
    seccomp: /^Seccomp:\s/m.test((await readTrimmed(proc('self/status'))) ?? ''),
    apparmor: (await readTrimmed(sources.apparmorFile)) === 'Y',
  };
}

async function cgroupV1Features(root: string): Promise<CgroupFeatures> {
  const has = (path: string) => exists(join(root, path));
  return {
    memoryLimit: await has('memory/memory.limit_in_bytes'),
    swapLimit: await has('memory/memory.memsw.limit_in_bytes'),
    cpuCfsPeriod: await has('cpu/cpu.cfs_period_us'),
    cpuCfsQuota: await has('cpu/cpu.cfs_quota_us'),
    cpuShares: await has('cpu/cpu.shares'),
    cpuSet: await has('cpuset/cpuset.cpus'),
    pidsLimit: await has('pids/cgroup.procs'),
    oomKillDisable: await has('memory/memory.oom_control'),
  };
}

/** The root's cgroup.controllers lists what children can use; v2 has no OOM-kill switch. */
async function cgroupV2Features(root: string): Promise<CgroupFeatures> {
  const controllers = new Set(((await readTrimmed(join(root, 'cgroup.controllers'))) ?? '').split(/\s+/));
  const memory = controllers.has('memory');
  const cpu = controllers.has('cpu');
  return {
    memoryLimit: memory,
    swapLimit: memory,
    cpuCfsPeriod: cpu,
    cpuCfsQuota: cpu,
    cpuShares: cpu,
    cpuSet: controllers.has('cpuset'),
    pidsLimit: controllers.has('pids'),
    oomKillDisable: false,
  };
}

async function readOsRelease(files: readonly string[]): Promise<Record<string, string>> {
  for (const file of files) {
    const text = await readTrimmed(file);
    if (text !== undefined) return parseOsRelease(text);
  }
  return {};
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
