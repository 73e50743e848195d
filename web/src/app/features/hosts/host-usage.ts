import { type HostInventory, type HostPressure, hostPressure } from '@skiff/protocol';

import { formatByteSize } from '../../shared/format/byte-size';

/** One resource of a host as the console shows it: how full, in words, and whether it runs short. */
export interface UsageLine {
  resource: HostPressure;
  label: string;
  /** 0-100, for a progress bar. */
  usedPercent: number;
  text: string;
  pressure: boolean;
}

/** Memory and disk of a host by its agent's last report; none when the agent reports no usage. */
export function usageLines(inventory: HostInventory | null | undefined): UsageLine[] {
  const usage = inventory?.usage;
  if (!inventory || !usage) return [];
  const pressure = hostPressure(inventory);
  const lines: UsageLine[] = [];
  if (inventory.memoryBytes > 0) {
    lines.push({
      resource: 'memory',
      label: 'Memory',
      usedPercent: percent(inventory.memoryBytes - usage.memoryAvailableBytes, inventory.memoryBytes),
      text: `${formatByteSize(usage.memoryAvailableBytes)} available of ${formatByteSize(inventory.memoryBytes)}`,
      pressure: pressure.includes('memory'),
    });
  }
  if (usage.diskTotalBytes > 0) {
    lines.push({
      resource: 'disk',
      label: 'Disk',
      usedPercent: percent(usage.diskTotalBytes - usage.diskFreeBytes, usage.diskTotalBytes),
      text: `${formatByteSize(usage.diskFreeBytes)} free of ${formatByteSize(usage.diskTotalBytes)}`,
      pressure: pressure.includes('disk'),
    });
  }
  return lines;
}

function percent(part: number, whole: number): number {
  return Math.min(100, Math.max(0, Math.round((part / whole) * 100)));
}
