/**
 * Which device nodes a container may open or create. A container has CAP_MKNOD by default, so
 * without these rules it could make /dev/sda and read the host's disk. v1 enforces them through
 * the devices controller; v2 only through an eBPF program, which Skiff does not attach yet.
 */
import { invalidArgument } from '../engine-error.js';

export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  major: number | '*';
  minor: number | '*';
  /** A non-empty subset of `rwm`: read, write, mknod. */
  access: string;
}

export type DeviceAccess = { allowAll: true } | { allowAll: false; allow: DeviceRule[] };

/** What every unprivileged container gets: mknod of anything, use of the standard nodes only. */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceRule[] = [
  { type: 'c', major: '*', minor: '*', access: 'm' },
  { type: 'b', major: '*', minor: '*', access: 'm' },
  { type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { type: 'c', major: 5, minor: 1, access: 'rwm' }, // /dev/console
  { type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { type: 'c', major: 136, minor: '*', access: 'rwm' }, // /dev/pts/*
];

export interface ContainerDevices {
  /** `--privileged`: every device. */
  privileged?: boolean;
  /** `--device` nodes, resolved to their numbers; permissions default to `rwm`. */
  devices?: { type: 'b' | 'c'; major: number; minor: number; permissions?: string }[];
  /** `--device-cgroup-rule`, e.g. `c 13:* rwm`. */
  deviceCgroupRules?: string[] | null;
}

export function containerDeviceAccess(options: ContainerDevices = {}): DeviceAccess {
  if (options.privileged) return { allowAll: true };
  const allow = [...DEFAULT_ALLOWED_DEVICES];
  for (const device of options.devices ?? []) {
    const access = device.permissions ?? 'rwm';
    checkAccess(access, `${device.type} ${device.major}:${device.minor}`);
    allow.push({ type: device.type, major: device.major, minor: device.minor, access });
  }
  for (const rule of options.deviceCgroupRules ?? []) allow.push(parseDeviceCgroupRule(rule));
  return { allowAll: false, allow };
}

/** `type major:minor access` as in the kernel's devices.allow (`a` alone means every device). */
export function parseDeviceCgroupRule(text: string): DeviceRule {
  const trimmed = text.trim();
  if (trimmed === 'a') return { type: 'a', major: '*', minor: '*', access: 'rwm' };
  const match = /^([abc]) (\d+|\*):(\d+|\*) ([rwm]+)$/.exec(trimmed);
  if (!match) {
    throw invalidArgument(
      `invalid device cgroup rule (DeviceCgroupRules) "${text}": expected "type major:minor access", e.g. "c 13:* rwm"`,
    );
  }
  const [, type, major, minor, access] = match as unknown as [string, 'a' | 'b' | 'c', string, string, string];
  checkAccess(access, text);
  return {
    type,
    major: major === '*' ? '*' : Number(major),
    minor: minor === '*' ? '*' : Number(minor),
    access,
  };
}

function checkAccess(access: string, rule: string): void {
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
    throw invalidArgument(`invalid device access "${access}" in "${rule}": use a combination of r, w and m`);
  }
}

export function formatDeviceRule(rule: DeviceRule): string {
  if (rule.type === 'a') return 'a';
  return `${rule.type} ${rule.major}:${rule.minor} ${rule.access}`;
}
