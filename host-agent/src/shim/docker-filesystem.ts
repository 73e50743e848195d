/**
 * The filesystem Docker gives every Linux container (moby's default OCI spec and runc's
 * defaults): /proc, a tmpfs /dev with the standard nodes, devpts, /dev/shm, mqueue, a read-only
 * /sys and cgroup view, and the masked and read-only paths that hide the host's kernel knobs.
 * `--privileged` keeps /sys and cgroups writable, masks nothing and gets every host device.
 */
import type { ShimDevice, ShimMount, ShimSymlink } from './shim-plan.js';

export const DOCKER_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DOCKER_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

const charDevice = (path: string, major: number, minor: number): ShimDevice => ({
  path,
  type: 'c',
  major,
  minor,
  fileMode: 0o666,
  uid: 0,
  gid: 0,
});

/** The nodes every container's /dev has. */
export const DOCKER_DEFAULT_DEVICES: readonly ShimDevice[] = [
  charDevice('/dev/null', 1, 3),
  charDevice('/dev/zero', 1, 5),
  charDevice('/dev/full', 1, 7),
  charDevice('/dev/random', 1, 8),
  charDevice('/dev/urandom', 1, 9),
  charDevice('/dev/tty', 5, 0),
];

export const DOCKER_DEV_SYMLINKS: readonly ShimSymlink[] = [
  { path: '/dev/fd', target: '/proc/self/fd' },
  { path: '/dev/stdin', target: '/proc/self/fd/0' },
  { path: '/dev/stdout', target: '/proc/self/fd/1' },
  { path: '/dev/stderr', target: '/proc/self/fd/2' },
  { path: '/dev/ptmx', target: 'pts/ptmx' },
];

/** What /sys/fs/cgroup shows: the host's layout decides (the agent's cgroup module reads it). */
export type CgroupView =
  | { version: 2 }
  /** One entry per v1 hierarchy, e.g. { name: 'memory', options: 'memory' } or { name: 'systemd', options: 'name=systemd' }. */
  | { version: 1; hierarchies: { name: string; options: string }[] }
  | { version: 'none' };

export interface DockerFilesystemOptions {
  privileged?: boolean;
  cgroup?: CgroupView;
  /** `--shm-size`; Docker's default is 64 MiB. */
  shmSizeBytes?: number;
  /** `--device`: extra nodes (the agent stats the host node to fill in major/minor). */
  devices?: ShimDevice[];
  /** With `--privileged`, every node of the host's /dev (the agent lists them). */
  hostDevices?: ShimDevice[];
}

export interface DockerFilesystem {
  mounts: ShimMount[];
  devices: ShimDevice[];
  symlinks: ShimSymlink[];
  maskedPaths: string[];
  readonlyPaths: string[];
}

const SIXTY_FOUR_MIB = 64 * 1024 * 1024;

function cgroupMounts(view: CgroupView, privileged: boolean): { mounts: ShimMount[]; symlinks: ShimSymlink[] } {
  const ro = privileged ? [] : (['rdonly'] as const);
  switch (view.version) {
    case 'none':
      return { mounts: [], symlinks: [] };
    case 2:
      return {
        mounts: [
          { type: 'cgroup2', source: 'cgroup', target: '/sys/fs/cgroup', flags: [...ro, 'nosuid', 'noexec', 'nodev'] },
        ],
        symlinks: [],
      };
    case 1: {
      // A tmpfs holding one mount per hierarchy; with the cgroup namespace each shows the
      // container's own cgroup as its root. The tmpfs turns read-only after the hierarchies.
      const mounts: ShimMount[] = [
        {
          type: 'tmpfs',
          source: 'tmpfs',
          target: '/sys/fs/cgroup',
          flags: ['nosuid', 'noexec', 'nodev'],
          data: 'mode=755',
        },
      ];
      const symlinks: ShimSymlink[] = [];
      for (const h of view.hierarchies) {
        mounts.push({
          type: 'cgroup',
          source: 'cgroup',
          target: `/sys/fs/cgroup/${h.name}`,
          flags: [...ro, 'nosuid', 'noexec', 'nodev'],
          data: h.options,
        });
        // A co-mounted hierarchy ("cpu,cpuacct") is also reachable by each controller's name.
        if (h.name.includes(',')) {
          for (const part of h.name.split(',')) symlinks.push({ path: `/sys/fs/cgroup/${part}`, target: h.name });
        }
      }
      if (!privileged)
        mounts.push({
          type: 'remount',
          source: '',
          target: '/sys/fs/cgroup',
          flags: ['rdonly', 'nosuid', 'noexec', 'nodev'],
        });
      return { mounts, symlinks };
    }
    default: {
      const unknown: never = view;
      throw new Error(`unknown cgroup view: ${JSON.stringify(unknown)}`);
    }
  }
}

/** The mounts, devices and path rules of a Docker container, before its own volumes and binds. */
export function dockerFilesystem(options: DockerFilesystemOptions = {}): DockerFilesystem {
  const privileged = options.privileged ?? false;
  const shmSize = options.shmSizeBytes ?? SIXTY_FOUR_MIB;
  const cgroup = cgroupMounts(options.cgroup ?? { version: 'none' }, privileged);
  const mounts: ShimMount[] = [
    { type: 'proc', source: 'proc', target: '/proc', flags: ['nosuid', 'noexec', 'nodev'] },
    { type: 'tmpfs', source: 'tmpfs', target: '/dev', flags: ['nosuid', 'strictatime'], data: 'mode=755,size=65536k' },
    {
      type: 'devpts',
      source: 'devpts',
      target: '/dev/pts',
      flags: ['nosuid', 'noexec'],
      data: 'newinstance,ptmxmode=0666,mode=0620,gid=5',
    },
    {
      type: 'sysfs',
      source: 'sysfs',
      target: '/sys',
      flags: [...(privileged ? [] : (['rdonly'] as const)), 'nosuid', 'noexec', 'nodev'],
    },
    ...cgroup.mounts,
    { type: 'mqueue', source: 'mqueue', target: '/dev/mqueue', flags: ['nosuid', 'noexec', 'nodev'] },
    {
      type: 'tmpfs',
      source: 'shm',
      target: '/dev/shm',
      flags: ['nosuid', 'noexec', 'nodev'],
      data: `mode=1777,size=${Math.ceil(shmSize / 1024)}k`,
    },
  ];
  const devices = new Map<string, ShimDevice>();
  for (const device of [
    ...DOCKER_DEFAULT_DEVICES,
    ...(privileged ? (options.hostDevices ?? []) : []),
    ...(options.devices ?? []),
  ]) {
    devices.set(device.path, device);
  }
  return {
    mounts,
    devices: [...devices.values()],
    symlinks: [...DOCKER_DEV_SYMLINKS, ...cgroup.symlinks],
    maskedPaths: privileged ? [] : [...DOCKER_MASKED_PATHS],
    readonlyPaths: privileged ? [] : [...DOCKER_READONLY_PATHS],
  };
}
