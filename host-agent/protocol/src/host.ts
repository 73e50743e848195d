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
