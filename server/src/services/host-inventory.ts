import type { HostInventory } from '@skiff/protocol';
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
  };
}
