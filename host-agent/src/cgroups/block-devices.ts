/**
 * Block I/O limits name devices by path (`--device-read-bps /dev/sda:1mb`); the kernel wants
 * `major:minor`. Resolving is read-only, so it runs before any cgroup is touched.
 */
import { stat } from 'node:fs/promises';

import { invalidArgument } from '../engine-error.js';
import { errnoCode } from './cgroup-fs.js';
import { THROTTLE_FIELDS, type DockerResources } from './docker-resources.js';

export interface DeviceNumber {
  major: number;
  minor: number;
}

export interface DeviceStat {
  rdev: bigint;
  isBlockDevice(): boolean;
}

/** stat(2) with a 64-bit rdev; injectable so tests need no real devices. */
export type StatDevice = (path: string) => Promise<DeviceStat>;

export const statDevice: StatDevice = (path) => stat(path, { bigint: true });

/** glibc's encoding of dev_t (gnu_dev_major / gnu_dev_minor). */
export function splitDeviceNumber(rdev: bigint): DeviceNumber {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** The device number of every path the resources name, keyed by path. */
export async function resolveBlockDevices(
  resources: DockerResources,
  statFn: StatDevice = statDevice,
): Promise<Map<string, DeviceNumber>> {
  const paths = new Map<string, string>();
  for (const device of resources.BlkioWeightDevice ?? []) paths.set(device.Path, 'BlkioWeightDevice');
  for (const field of THROTTLE_FIELDS) for (const device of resources[field] ?? []) paths.set(device.Path, field);
  const resolved = new Map<string, DeviceNumber>();
  for (const [path, field] of paths) {
    let info: DeviceStat;
    try {
      info = await statFn(path);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw invalidArgument(`no such block device (${field}): ${path}`);
      throw invalidArgument(`cannot read block device (${field}) ${path}: ${code ?? String(error)}`);
    }
    if (!info.isBlockDevice()) throw invalidArgument(`not a block device (${field}): ${path}`);
    resolved.set(path, splitDeviceNumber(info.rdev));
  }
  return resolved;
}
