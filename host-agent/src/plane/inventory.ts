import type { HostInventory, HostUsage } from '@skiff/protocol';
import { access, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { agentVersion } from '../agent-version.js';

/** Where the inventory reads the host's facts; a test points these into a temporary directory. */
export interface InventorySources {
  /** Tried in order; os-release(5) names /usr/lib/os-release as the fallback of /etc/os-release. */
  osReleaseFiles: readonly string[];
  cgroupRoot: string;
  meminfoFile: string;
}

export const HOST_INVENTORY_SOURCES: InventorySources = {
  osReleaseFiles: ['/etc/os-release', '/usr/lib/os-release'],
  cgroupRoot: '/sys/fs/cgroup',
  meminfoFile: '/proc/meminfo',
};

/**
 * The host's facts and its use of memory and of the disk under `stateRoot` (where the engine
 * keeps images, containers and volumes), as each heartbeat reports them.
 */
export async function collectInventory(
  sources: InventorySources = HOST_INVENTORY_SOURCES,
  stateRoot: string = '/',
  version: string = agentVersion(),
): Promise<HostInventory> {
  const memoryBytes = os.totalmem();
  return {
    hostname: os.hostname(),
    os: await detectOsName(sources.osReleaseFiles),
    kernel: os.release(),
    architecture: process.arch,
    cpus: os.availableParallelism(),
    memoryBytes,
    cgroupVersion: await detectCgroupVersion(sources.cgroupRoot),
    agentVersion: version,
    usage: await measureUsage(sources.meminfoFile, stateRoot),
  };
}

/** Memory available, the disk under `stateRoot` and the load; a figure that cannot be read is left out. */
export async function measureUsage(meminfoFile: string, stateRoot: string): Promise<HostUsage | undefined> {
  try {
    const [meminfo, disk] = await Promise.all([readFile(meminfoFile, 'utf8'), statfs(stateRoot)]);
    const available = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
    return {
      memoryAvailableBytes: available ? Number(available[1]) * 1024 : os.freemem(),
      diskTotalBytes: disk.blocks * disk.bsize,
      diskFreeBytes: disk.bavail * disk.bsize,
      load1: Math.round(os.loadavg()[0] * 100) / 100,
    };
  } catch {
    return undefined;
  }
}

/** PRETTY_NAME of the first readable os-release file, else NAME, else the kernel's name for itself. */
export async function detectOsName(osReleaseFiles: readonly string[]): Promise<string> {
  for (const file of osReleaseFiles) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const fields = parseOsRelease(text);
    const name = fields['PRETTY_NAME'] || fields['NAME'];
    if (name) return name;
  }
  return os.type();
}

/** The unified hierarchy has cgroup.controllers at its root; a v1 (or hybrid) mount does not. */
export async function detectCgroupVersion(cgroupRoot: string): Promise<'v1' | 'v2'> {
  try {
    await access(join(cgroupRoot, 'cgroup.controllers'));
    return 'v2';
  } catch {
    return 'v1';
  }
}

/** os-release(5): KEY=value lines, values optionally quoted shell-style, `#` comments. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*?)\s*$/.exec(line);
    if (!match) continue;
    const [, key, value] = match as unknown as [string, string, string];
    fields[key] = unquote(value);
  }
  return fields;
}

function unquote(value: string): string {
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
    const inner = value.slice(1, -1);
    // Inside double quotes the shell keeps a backslash unless it escapes one of $ " \ `.
    return quote === '"' ? inner.replace(/\\([$"\\`])/g, '$1') : inner;
  }
  return value;
}
