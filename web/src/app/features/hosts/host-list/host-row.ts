import type { HostStatus, HostSummary } from '@skiff/protocol';

import { formatByteSize } from '../../../shared/format/byte-size';
import { formatTimeAgo } from '../../../shared/format/relative-time';

const UNKNOWN = '—';

/** One line of the hosts table, already in words. */
export interface HostRow {
  id: string;
  name: string;
  status: HostStatus;
  hostname: string;
  os: string;
  kernel: string;
  cpus: string;
  memory: string;
  agentVersion: string;
  /** ISO 8601, for the <time> element; null if the agent never connected. */
  lastSeenAt: string | null;
  lastSeenAgo: string;
  lastSeenExact: string;
}

const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function toHostRow(host: HostSummary, now: number): HostRow {
  const inventory = host.inventory;
  return {
    id: host.id,
    name: host.name,
    status: host.status,
    hostname: inventory?.hostname ?? UNKNOWN,
    os: inventory?.os ?? UNKNOWN,
    kernel: inventory?.kernel ?? UNKNOWN,
    cpus: inventory ? String(inventory.cpus) : UNKNOWN,
    memory: inventory ? formatByteSize(inventory.memoryBytes) : UNKNOWN,
    agentVersion: inventory?.agentVersion ?? UNKNOWN,
    lastSeenAt: host.lastSeenAt,
    lastSeenAgo: host.lastSeenAt ? formatTimeAgo(host.lastSeenAt, now) : 'Never',
    lastSeenExact: host.lastSeenAt ? exactTime.format(new Date(host.lastSeenAt)) : '',
  };
}
