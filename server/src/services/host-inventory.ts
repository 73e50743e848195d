import type { HostInventory, HostUsage } from '@skiff/protocol';
import { invalidArgument } from '../errors/domain-error.js';

/** Checks an inventory sent by an agent field by field; agents are not trusted to send well-formed data. */
export function parseInventory(value: unknown): HostInventory {
  if (typeof value !== 'object' || value === null) throw invalidArgument('inventory must be an object');
  const record = value as Record<string, unknown>;
  const text = (field: string, max = 255): string => {
    const item = record[field];
    if (typeof item !== 'string' || item.length > max) {
      throw invalidArgument(`inventory.${field} must be a string of at most ${max} characters`);
    }
    return item;
  };
  const count = (field: string): number => {
    const item = record[field];
    if (typeof item !== 'number' || !Number.isSafeInteger(item) || item < 0) {
      throw invalidArgument(`inventory.${field} must be a non-negative integer`);
    }
    return item;
  };
  const cgroupVersion = record.cgroupVersion;
  if (cgroupVersion !== 'v1' && cgroupVersion !== 'v2') {
    throw invalidArgument('inventory.cgroupVersion must be "v1" or "v2"');
  }
  return {
    hostname: text('hostname'),
    os: text('os'),
    kernel: text('kernel'),
    architecture: text('architecture', 32),
    cpus: count('cpus'),
    memoryBytes: count('memoryBytes'),
    cgroupVersion,
    agentVersion: text('agentVersion', 64),
    ...(record.usage === undefined ? {} : { usage: parseUsage(record.usage) }),
  };
}

/** The usage part of an inventory: counts of bytes and a load average, nothing else. */
function parseUsage(value: unknown): HostUsage {
  if (typeof value !== 'object' || value === null) throw invalidArgument('inventory.usage must be an object');
  const record = value as Record<string, unknown>;
  const bytes = (field: keyof HostUsage): number => {
    const item = record[field];
    if (typeof item !== 'number' || !Number.isSafeInteger(item) || item < 0) {
      throw invalidArgument(`inventory.usage.${field} must be a non-negative integer`);
    }
    return item;
  };
  const load1 = record.load1;
  if (typeof load1 !== 'number' || !Number.isFinite(load1) || load1 < 0) {
    throw invalidArgument('inventory.usage.load1 must be a non-negative number');
  }
  const usage = {
    memoryAvailableBytes: bytes('memoryAvailableBytes'),
    diskTotalBytes: bytes('diskTotalBytes'),
    diskFreeBytes: bytes('diskFreeBytes'),
    load1,
  };
  if (usage.diskFreeBytes > usage.diskTotalBytes) {
    throw invalidArgument('inventory.usage.diskFreeBytes cannot be more than diskTotalBytes');
  }
  return usage;
}
