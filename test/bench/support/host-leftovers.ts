import { existsSync, lstatSync, readdirSync, rmdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the peer engines leave on the host outside the private directories they are given
 * (checked with dockerd 20.10, containerd 1.6, podman 4.3, runc 1.1 and crun 1.8): paths their
 * versions hard-code, and the parent cgroups they make in every v1 hierarchy.
 */
const HARD_CODED_PATHS = [
  '/etc/docker/key.json', // dockerd 20.10's trust key: no flag moves it
  '/run/docker', // dockerd's plugin sockets
  '/run/containerd', // containerd 1.6's shim sockets (/run/containerd/s), whatever its state dir
  '/run/containers', // podman's netavark run directory when run as root
  '/etc/containers/networks', // podman's network configs (moved by network_config_dir, the lock is not)
  '/var/lib/containers', // containers/image's blob-info cache
  '/run/libpod',
  '/run/crun', // made by conmon and podman for the runtimes' default state
  '/run/runc',
  '/opt/containerd', // containerd's opt plugin, unless its path is configured (ours is)
];
const PARENT_CGROUPS = ['docker', 'libpod_parent'];
const CGROUP_ROOT = '/sys/fs/cgroup';
const TMPFS_MAGIC = 0x01021994;

/**
 * The host's state before the peers ran, so that afterwards exactly what they added goes: a path
 * that existed before is kept, whatever happened to it meanwhile.
 */
export class HostLeftovers {
  private constructor(
    private readonly paths: string[],
    private readonly cgroups: string[],
    /** The entries of /sys/fs/cgroup before: crun and podman add directories for hierarchies that are not mounted. */
    private readonly cgroupRootEntries: string[],
  ) {}

  /** `cgroupPrefix`: the benchmark's own cgroup names (the OCI runtimes name a container's cgroup by its id). */
  static before(cgroupPrefix: string): HostLeftovers {
    const paths = HARD_CODED_PATHS.filter((path) => !existsSync(path));
    const cgroups = cgroupHierarchies().flatMap((hierarchy) =>
      [...PARENT_CGROUPS.filter((name) => !existsSync(join(hierarchy, name))), `${cgroupPrefix}*`].map((name) =>
        join(hierarchy, name),
      ),
    );
    const rootEntries = existsSync(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : [];
    return new HostLeftovers(paths, cgroups, rootEntries);
  }

  /** Removes what appeared since `before`; returns what it removed. */
  remove(): string[] {
    const removed: string[] = [];
    for (const path of this.paths) {
      if (!existsSync(path)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    }
    for (const pattern of this.cgroups) {
      for (const cgroup of expand(pattern)) {
        removeCgroup(cgroup);
        removed.push(cgroup);
      }
    }
    // New entries of /sys/fs/cgroup itself: plain directories and symlinks in its tmpfs (such as
    // hugetlb, net_cls,net_prio and its two links), never a hierarchy mounted meanwhile.
    for (const name of existsSync(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : []) {
      if (this.cgroupRootEntries.includes(name)) continue;
      const path = join(CGROUP_ROOT, name);
      if (!lstatSync(path).isSymbolicLink() && statfsSync(path).type !== TMPFS_MAGIC) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    }
    return removed;
  }
}

function cgroupHierarchies(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  return readdirSync(CGROUP_ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(CGROUP_ROOT, entry.name));
}

function expand(pattern: string): string[] {
  if (!pattern.endsWith('*')) return existsSync(pattern) ? [pattern] : [];
  const slash = pattern.lastIndexOf('/');
  const [directory, prefix] = [pattern.slice(0, slash), pattern.slice(slash + 1, -1)];
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((name) => name.startsWith(prefix))
    .map((name) => join(directory, name))
    .filter((path) => statSync(path).isDirectory());
}

/** A cgroup goes with rmdir, children first (its control files cannot be unlinked). */
function removeCgroup(path: string): void {
  // Made where no hierarchy is mounted (hugetlb, net_cls, perf_event on this hybrid host): crun
  // and podman then write their limits as plain files into /sys/fs/cgroup's tmpfs.
  if (statfsSync(path).type === TMPFS_MAGIC) {
    rmSync(path, { recursive: true, force: true });
    return;
  }
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroup(join(path, entry.name));
  }
  rmdirSync(path);
}
