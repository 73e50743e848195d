/**
 * Which cgroup hierarchies a host has. Pure v2 hosts (most current distributions) have one
 * cgroup2 file system at /sys/fs/cgroup with `cgroup.controllers` at its top; v1 and hybrid hosts
 * have one directory per v1 hierarchy there (and, on hybrid hosts, an empty cgroup2 mount at
 * `unified` that systemd uses to track processes).
 */
import { join } from 'node:path';

import { unavailable } from '../engine-error.js';
import { nodeCgroupFs, readOptional, type CgroupFs } from './cgroup-fs.js';

/** The v1 controllers the kernel knows; anything else in a mount's options is an option. */
export const V1_CONTROLLERS = [
  'blkio',
  'cpu',
  'cpuacct',
  'cpuset',
  'devices',
  'freezer',
  'hugetlb',
  'memory',
  'misc',
  'net_cls',
  'net_prio',
  'perf_event',
  'pids',
  'rdma',
] as const;

export type V1Controller = (typeof V1_CONTROLLERS)[number];

export interface CgroupV1Hierarchy {
  /** Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory` or `/sys/fs/cgroup/cpu,cpuacct`. */
  dir: string;
  /** The controllers bound to it; empty for a named hierarchy such as `name=systemd`. */
  controllers: V1Controller[];
  /** The name of a named hierarchy (`systemd` for `name=systemd`). */
  name?: string;
}

export interface CgroupV1Layout {
  version: 1;
  hierarchies: CgroupV1Hierarchy[];
  /** Each mounted controller and the directory of its hierarchy. */
  controllers: Partial<Record<V1Controller, string>>;
  /** The cgroup2 mount of a hybrid host. Containers join it too, so systemd does not count them as the agent's. */
  unified?: string;
}

export interface CgroupV2Layout {
  version: 2;
  root: string;
  /** What `cgroup.controllers` of the root offers, e.g. ['cpuset', 'cpu', 'io', 'memory', 'pids']. */
  controllers: string[];
}

export type CgroupLayout = CgroupV1Layout | CgroupV2Layout;

export interface DetectCgroupLayoutOptions {
  fs?: CgroupFs;
  /** The text of /proc/self/mountinfo; read from /proc when not given. */
  mountinfo?: string;
}

/** Every directory a container's cgroup lives under, one per hierarchy. */
export function hierarchyDirs(layout: CgroupLayout): string[] {
  switch (layout.version) {
    case 1:
      return [...layout.hierarchies.map((h) => h.dir), ...(layout.unified === undefined ? [] : [layout.unified])];
    case 2:
      return [layout.root];
  }
}

/**
 * Reads the layout under `sysFsCgroup`: v2 when it holds `cgroup.controllers`; otherwise the v1
 * hierarchies mounted below it according to mountinfo, or, where mountinfo does not list them (a
 * temporary folder imitating /sys/fs/cgroup in a test), the directories found there.
 */
export async function detectCgroupLayout(
  sysFsCgroup = '/sys/fs/cgroup',
  options: DetectCgroupLayoutOptions = {},
): Promise<CgroupLayout> {
  const fs = options.fs ?? nodeCgroupFs;
  const controllersFile = await readOptional(fs, join(sysFsCgroup, 'cgroup.controllers'));
  if (controllersFile !== undefined) {
    return { version: 2, root: sysFsCgroup, controllers: controllersFile.split(/\s+/).filter(Boolean) };
  }
  const mountinfo = options.mountinfo ?? (await readOptional(fs, '/proc/self/mountinfo')) ?? '';
  const mounts = parseCgroupMounts(mountinfo).filter((m) => isBelow(m.mountPoint, sysFsCgroup));
  const layout = mounts.length > 0 ? layoutFromMounts(mounts) : await layoutFromDirectories(fs, sysFsCgroup);
  if (layout.hierarchies.length === 0) {
    throw unavailable(`no cgroup hierarchy is mounted under ${sysFsCgroup}`);
  }
  return layout;
}

export interface CgroupMount {
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  /** The super options of a v1 mount, e.g. ['rw', 'cpu', 'cpuacct'] or ['rw', 'name=systemd']. */
  superOptions: string[];
}

/** The cgroup and cgroup2 mounts listed in a mountinfo text (proc(5) describes the fields). */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (separator < 6) continue;
    const fsType = fields[separator + 1];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({
      mountPoint: unescapeMountField(fields[4] ?? ''),
      fsType,
      superOptions: (fields[separator + 3] ?? '').split(','),
    });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash in paths as octal escapes (`\040`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function isBelow(path: string, parent: string): boolean {
  const prefix = parent.endsWith('/') ? parent : `${parent}/`;
  return path.startsWith(prefix);
}

function isV1Controller(option: string): option is V1Controller {
  return (V1_CONTROLLERS as readonly string[]).includes(option);
}

function layoutFromMounts(mounts: CgroupMount[]): CgroupV1Layout {
  const layout: CgroupV1Layout = { version: 1, hierarchies: [], controllers: {} };
  for (const mount of mounts) {
    if (mount.fsType === 'cgroup2') {
      layout.unified ??= mount.mountPoint;
      continue;
    }
    const controllers = mount.superOptions.filter(isV1Controller);
    const name = mount.superOptions.find((o) => o.startsWith('name='))?.slice('name='.length);
    addHierarchy(layout, { dir: mount.mountPoint, controllers, ...(name === undefined ? {} : { name }) });
  }
  return layout;
}

async function layoutFromDirectories(fs: CgroupFs, sysFsCgroup: string): Promise<CgroupV1Layout> {
  const layout: CgroupV1Layout = { version: 1, hierarchies: [], controllers: {} };
  let names: string[];
  try {
    names = (await fs.subdirectories(sysFsCgroup)).sort();
  } catch {
    return layout;
  }
  for (const name of names) {
    const dir = join(sysFsCgroup, name);
    if (await fs.exists(join(dir, 'cgroup.controllers'))) {
      layout.unified ??= dir;
      continue;
    }
    if (!(await fs.exists(join(dir, 'cgroup.procs')))) continue;
    const controllers = name.split(',').filter(isV1Controller);
    addHierarchy(layout, controllers.length > 0 ? { dir, controllers } : { dir, controllers, name });
  }
  return layout;
}

/** The same hierarchy mounted twice (or a co-mounted one seen by two names) is kept once. */
function addHierarchy(layout: CgroupV1Layout, hierarchy: CgroupV1Hierarchy): void {
  if (hierarchy.controllers.length === 0 && hierarchy.name === undefined) return;
  const duplicate = layout.hierarchies.some(
    (h) =>
      h.dir === hierarchy.dir ||
      (hierarchy.controllers.length > 0 && hierarchy.controllers.every((c) => layout.controllers[c] !== undefined)) ||
      (hierarchy.name !== undefined && h.name === hierarchy.name),
  );
  if (duplicate) return;
  layout.hierarchies.push(hierarchy);
  for (const controller of hierarchy.controllers) layout.controllers[controller] = hierarchy.dir;
}
