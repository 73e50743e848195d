/** What an agent reports about its host when it connects. */
export interface HostInventory {
  hostname: string;
  /** e.g. "Debian GNU/Linux 12 (bookworm)" */
  os: string;
  /** e.g. "6.18.0" */
  kernel: string;
  /** Node's name for the machine: "x64", "arm64", … */
  architecture: string;
  cpus: number;
  memoryBytes: number;
  cgroupVersion: 'v1' | 'v2';
  agentVersion: string;
  /** What is in use now, sent with every heartbeat; absent from agents that do not report it. */
  usage?: HostUsage;
}

/** A host's use of its resources when its agent last reported. */
export interface HostUsage {
  /** Memory available for new work without swapping (MemAvailable in /proc/meminfo). */
  memoryAvailableBytes: number;
  /** The filesystem holding the agent's state: images, containers, volumes. */
  diskTotalBytes: number;
  /** What of it unprivileged writers may still use. */
  diskFreeBytes: number;
  /** The one-minute load average. */
  load1: number;
}

/** Below this share of memory available, or of disk free, a host is under pressure. */
export const HOST_PRESSURE_RATIO = 0.1;

export type HostPressure = 'memory' | 'disk';

/** The resources a host is short of, by its last report (none when it reports no usage). */
export function hostPressure(inventory: HostInventory | null | undefined): HostPressure[] {
  const usage = inventory?.usage;
  if (!usage) return [];
  const pressure: HostPressure[] = [];
  if (inventory.memoryBytes > 0 && usage.memoryAvailableBytes < inventory.memoryBytes * HOST_PRESSURE_RATIO) {
    pressure.push('memory');
  }
  if (usage.diskTotalBytes > 0 && usage.diskFreeBytes < usage.diskTotalBytes * HOST_PRESSURE_RATIO) {
    pressure.push('disk');
  }
  return pressure;
}

export type HostStatus = 'online' | 'offline';

/** A host as the REST API and the console feed show it. */
export interface HostSummary {
  id: string;
  name: string;
  status: HostStatus;
  /** ISO 8601; null until the agent first connects. */
  lastSeenAt: string | null;
  inventory: HostInventory | null;
  createdAt: string;
}
