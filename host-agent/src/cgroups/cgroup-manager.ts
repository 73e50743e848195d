/**
 * The cgroups of containers, on v1 and v2 hosts alike. One CgroupManager per agent; one
 * ContainerCgroup handle per container.
 *
 * How the engine uses them, in a container's life:
 *   docker create   manager.check(HostConfig) → Warnings of the create response;
 *                   store resourcesWithCreateDefaults(HostConfig) (what docker inspect shows)
 *   docker start    manager.create(id, stored, { devices: containerDeviceAccess({ privileged, devices, deviceCgroupRules }) })
 *                   → handle; handle.shimCgroup() is the shim plan's `cgroup`
 *   docker update   merged = mergeResourceUpdate(stored, body); handle.update(merged); store merged
 *   docker stats    handle.stats() → cpu_stats, memory_stats, pids_stats, blkio_stats
 *   docker top      handle.pids()
 *   docker pause    handle.freeze(); unpause: handle.thaw()
 *   container exit  handle.oomKilled() → State.OOMKilled; then handle.destroy() (each start makes a new cgroup)
 *   docker rm -f    handle.destroy() (kills what is left)
 *   agent start     manager.limitations() → log; manager.list() → manager.open(id) for cgroups of a previous run
 *
 * openCgroupManager (open-cgroup-manager.ts) makes the manager for the host.
 */
import type { StatDevice } from './block-devices.js';
import type { CgroupFs } from './cgroup-fs.js';
import type { CgroupLayout } from './cgroup-layout.js';
import type { CgroupStats } from './cgroup-stats.js';
import type { DeviceAccess } from './device-rules.js';
import type { DockerResources } from './docker-resources.js';

export interface CgroupManager {
  readonly layout: CgroupLayout;
  /**
   * Validates the resources against Docker's rules and this host, with no side effect.
   * @returns warnings about settings this host will drop (Docker's `Warnings`).
   */
  check(resources: DockerResources, options?: CreateCgroupOptions): Promise<string[]>;
  /**
   * Makes the container's cgroup in every hierarchy under the parent and writes its limits.
   * Refuses (invalid-argument) before making anything when a limit cannot be honoured; takes
   * away what it made when a write fails; conflict when the cgroup already exists.
   */
  create(containerId: string, resources: DockerResources, options?: CreateCgroupOptions): Promise<CreatedCgroup>;
  /** The handle of a container's cgroup, made earlier (perhaps by a previous run of the agent). */
  open(containerId: string): ContainerCgroup;
  /** The ids of the containers that have a cgroup under the parent in any hierarchy. */
  list(): Promise<string[]>;
  /**
   * What this host cannot enforce for any container (a missing controller, no swap accounting,
   * no device filter on v2), one sentence each: for the agent's log at start-up.
   */
  limitations(): Promise<string[]>;
}

export interface CreateCgroupOptions {
  /** Device access (v1 devices controller); by default what an unprivileged Docker container gets. */
  devices?: DeviceAccess;
}

export interface CreatedCgroup {
  cgroup: ContainerCgroup;
  warnings: string[];
}

/** What skiff-shim needs (ShimPlan['cgroup']): the directories whose cgroup.procs pid 1 joins. */
export interface ShimCgroup {
  paths: string[];
  /** memory.oom_control (v1) or memory.events (v2): its oom_kill counter tells an OOM kill. */
  oomEventsFile?: string;
}

export interface ContainerCgroup {
  readonly containerId: string;
  /** The container's directory in every hierarchy. */
  paths(): string[];
  shimCgroup(): ShimCgroup;
  exists(): Promise<boolean>;
  /** Writes the limits again from the whole, merged resources (mergeResourceUpdate). @returns warnings. */
  update(resources: DockerResources): Promise<string[]>;
  /** Returns once every process is frozen; thaws again and fails (unavailable) if that takes too long. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  isFrozen(): Promise<boolean>;
  /** The processes in the cgroup (and any child cgroups), ascending. */
  pids(): Promise<number[]>;
  stats(): Promise<CgroupStats>;
  /** How many processes the kernel's OOM killer has killed in this cgroup. */
  oomKillCount(): Promise<number>;
  oomKilled(): Promise<boolean>;
  /** Signals every process in the cgroup; frozen meanwhile, so none can fork past the signal. */
  killAll(signal?: NodeJS.Signals): Promise<void>;
  /** Kills what is left, waits until the cgroup is empty and removes it everywhere. Idempotent. */
  destroy(): Promise<void>;
}

export interface CgroupManagerOptions {
  sysFsCgroup?: string;
  /** The parent cgroup of every container; default `skiff`. */
  parent?: string;
  fs?: CgroupFs;
  /** The text of /proc/self/mountinfo (tests); read from /proc when not given. */
  mountinfo?: string;
  statDevice?: StatDevice;
  /** The text of /proc/stat. */
  procStat?: () => Promise<string>;
  machineMemory?: number;
  cpuCount?: number;
  /** process.kill; tests pass a fake so that no real process is signalled. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  /** How long freeze, thaw and destroy wait for the kernel; default 10 s. */
  timeoutMs?: number;
}

/** Everything a manager and its handles share: the host, its IO and its clocks. */
export interface CgroupContext {
  layout: CgroupLayout;
  parent: string;
  fs: CgroupFs;
  statDevice: StatDevice;
  procStat: () => Promise<string>;
  machineMemory: number;
  cpuCount: number;
  kill: (pid: number, signal: NodeJS.Signals) => void;
  timeoutMs: number;
}
