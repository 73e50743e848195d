/**
 * What `skiff-shim` is told to do for one container (ShimPlan) or for one process exec'd into a
 * running container (ShimExecPlan). The agent decides everything here (the planners fill it in
 * from the container's config); the shim only carries it out, in this order: namespaces, id
 * maps, cgroups, rootfs, mounts, devices, symlinks, remounts, masked and read-only paths,
 * read-only rootfs, pivot_root, hostname, loopback, terminal, rlimits, user and capabilities,
 * working directory, no_new_privs, (hold until attach "start"), seccomp, exec. See
 * host-agent/shim/PLAN-FORMAT.md for the wire form.
 */
import type { SockFilter } from '../seccomp/seccomp-bpf.js';
import type { Capability } from './capabilities.js';

export type NamespaceKind = 'pid' | 'mount' | 'uts' | 'ipc' | 'net' | 'cgroup' | 'user';

/** One line of /proc/<pid>/uid_map or gid_map. */
export interface IdMapping {
  insideId: number;
  outsideId: number;
  count: number;
}

export type ShimRootfs =
  /** An overlay of image layers; the shim mounts it inside the container's mount namespace. */
  | {
      kind: 'overlay';
      /** An empty host directory the overlay is mounted on (only the container sees the mount). */
      target: string;
      /** Top layer first, as overlayfs wants them. */
      lowerDirs: string[];
      upperDir: string;
      workDir: string;
    }
  /** A plain directory, bound onto target. */
  | { kind: 'bind'; target: string; source: string };

/** Per-mount and superblock flags, named after MS_* without the prefix. */
export type MountFlag =
  | 'rdonly'
  | 'nosuid'
  | 'nodev'
  | 'noexec'
  | 'synchronous'
  | 'dirsync'
  | 'noatime'
  | 'nodiratime'
  | 'rec'
  | 'relatime'
  | 'strictatime'
  | 'lazytime';

export type Propagation =
  'private' | 'rprivate' | 'slave' | 'rslave' | 'shared' | 'rshared' | 'unbindable' | 'runbindable';

export interface ShimMount {
  /**
   * `bind`: source is a host path (a bind mount, named volume or device); its flags (e.g.
   * `rdonly`) are set before the mount becomes visible, `rec` makes it recursive (rbind, and
   * recursive read-only).
   * `remount`: change the flags of the mount already at target (source is ignored); applied
   * after all other mounts, devices and symlinks, so a mount can be filled before it turns
   * read-only.
   * Anything else: a filesystem type (`proc`, `tmpfs`, `sysfs`, `devpts`, `mqueue`, `cgroup`…).
   */
  type: string;
  source: string;
  /** Path inside the container; symlinks in it are resolved inside the rootfs. */
  target: string;
  flags?: MountFlag[];
  propagation?: Propagation;
  /** Filesystem options, e.g. `size=65536k,mode=1777`. */
  data?: string;
}

export interface ShimDevice {
  /** Path inside the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits, e.g. 0o666. */
  fileMode: number;
  uid: number;
  gid: number;
  /** The host node to bind instead of mknod inside a user namespace; defaults to path. */
  hostPath?: string;
}

export interface ShimSymlink {
  /** Path inside the container. */
  path: string;
  target: string;
}

export const RLIMIT_NAMES = [
  'cpu',
  'fsize',
  'data',
  'stack',
  'core',
  'rss',
  'nproc',
  'nofile',
  'memlock',
  'as',
  'locks',
  'sigpending',
  'msgqueue',
  'nice',
  'rtprio',
  'rttime',
] as const;

/** Docker's `--ulimit` names; the index is the RLIMIT_* number. */
export type RlimitName = (typeof RLIMIT_NAMES)[number];

export type RlimitValue = number | bigint | 'unlimited';

export interface ShimRlimit {
  type: RlimitName;
  soft: RlimitValue;
  hard: RlimitValue;
}

/**
 * Where the container's stdout or stderr goes:
 * `null` — /dev/null;
 * `log`  — a pipe the shim reads: it appends the output to the plan's json-file log (if
 *          `logPath` is set) and sends it to every attach client (if `attach` is set);
 * `fd`   — a descriptor the shim got from the agent (see ShimStartOptions.passFds).
 */
export type ShimStdio = { kind: 'null' } | { kind: 'log' } | { kind: 'fd'; fd: number };

/**
 * Where the container's stdin comes from: /dev/null, a descriptor of the agent, or `attach` —
 * a pipe the shim fills with what attach clients send (Docker's `OpenStdin`).
 */
export type ShimStdin = { kind: 'null' } | { kind: 'fd'; fd: number } | { kind: 'attach' };

/**
 * A terminal (Docker's `Tty`): the process gets a pty of the container's own devpts as its
 * controlling terminal on 0–2; the shim keeps the master and reads all output from it (stream
 * `stdout`, as Docker has it). stdout and stderr must then be `log`, stdin `null` or `attach`.
 */
export interface ShimTerminal {
  /** The initial size (Docker's `ConsoleSize`: [rows, cols]); 0 × 0 when the client gave none. */
  rows: number;
  cols: number;
}

/** The attach socket (`<stateDir>/attach.sock`, protocol in host-agent/shim/PLAN-FORMAT.md). */
export interface ShimAttach {
  /**
   * Stop pid 1 right before execve until an attach client sends `start`, so that a client
   * attached before the start (`docker run` attaches first) misses no output. "started" is
   * reported while it waits; a failure of execve after that ends the container with 126/127.
   */
  holdUntilStart?: boolean;
  /**
   * Docker's `StdinOnce`: once a client that sent stdin goes away (or sends close-stdin), the
   * container's stdin is closed. Without a terminal only, as with Docker.
   */
  stdinOnce?: boolean;
}

export interface ShimCapabilitySets {
  bounding: Capability[];
  effective: Capability[];
  permitted: Capability[];
  inheritable: Capability[];
  ambient: Capability[];
}

/**
 * A seccomp filter (host-agent/src/seccomp): loaded with seccomp(2) as the very last step before
 * execve. Without no_new_privs that needs CAP_SYS_ADMIN, so the shim keeps it in the effective set
 * until then; execve drops it again, because it is in neither the bounding set nor the ambient set.
 */
export interface ShimSeccomp {
  /** The classic BPF program, at most 4096 instructions. */
  instructions: SockFilter[];
  /** SECCOMP_FILTER_FLAG_* for seccomp(2); default 0. */
  flags?: number;
}

/** What a container's pid 1 and an exec'd process have alike: who runs what, and how. */
export interface ShimProcessPlan {
  /** Existing directory where the shim writes state.json, exit.json, shim.log and attach.sock. */
  stateDir: string;
  /** The json-file log the shim appends output to (stdio kind `log`). */
  logPath?: string;
  cgroup?: {
    /** Host cgroup directories the process is put into before it runs (v1: one per hierarchy; v2: one). */
    paths: string[];
    /** memory.oom_control (v1) or memory.events (v2): its oom_kill counter tells an OOM kill. */
    oomEventsFile?: string;
  };

  capabilities: ShimCapabilitySets;
  rlimits?: ShimRlimit[];
  user: { uid: number; gid: number; additionalGids?: number[] };
  cwd: string;
  /** KEY=value entries; PATH here is what the shim searches for args[0]. */
  env: string[];
  args: string[];
  noNewPrivileges: boolean;
  /** Docker's seccomp profile, compiled; none when unconfined. */
  seccomp?: ShimSeccomp;
  /** Default 0o022. */
  umask?: number;
  stdio: { stdin: ShimStdin; stdout: ShimStdio; stderr: ShimStdio };
  terminal?: ShimTerminal;
  /**
   * Listen on `<stateDir>/attach.sock` for attach clients (see shim-attach.ts). Cheap; every
   * container should have it, since `docker attach`, resizes and a restarted agent all need it.
   */
  attach?: ShimAttach;
}

export interface ShimPlan extends ShimProcessPlan {
  /** Namespaces to create; mount and pid are required. Without `net` the host's is shared. */
  namespaces: NamespaceKind[];
  /** Existing namespaces to join first (e.g. a network namespace the agent prepared). */
  joinNamespaces?: { kind: NamespaceKind; path: string }[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];

  rootfs: ShimRootfs;
  /** Propagation of "/" in the container's mount namespace; default `rprivate`. */
  rootPropagation?: Propagation;
  readonlyRootfs?: boolean;
  /** In order: a later target may lie inside an earlier one. */
  mounts: ShimMount[];
  devices?: ShimDevice[];
  symlinks?: ShimSymlink[];
  /** Covered with /dev/null (files) or an empty read-only tmpfs (directories); missing ones are skipped. */
  maskedPaths?: string[];
  /** Made read-only (recursively); missing ones are skipped. */
  readonlyPaths?: string[];

  hostname?: string;
  domainname?: string;
  /** Bring `lo` up in a new network namespace. */
  loopbackUp?: boolean;
}

/**
 * `skiff-shim exec`: a process in a running container. The shim opens a pidfd of the
 * container's pid 1, checks that it is still the child of the container's shim, joins all of
 * its namespaces at once (user only if it differs), forks into its pid namespace, puts the
 * process into `cgroup.paths`, and then applies the same user, capability, rlimit, env, cwd and
 * stdio rules as for pid 1. The cwd must exist (Docker's exec does not create it).
 */
export interface ShimExecPlan extends ShimProcessPlan {
  /** From the container's state.json. */
  container: { pid: number; shimPid: number };
}

/** Files of a container's state directory that the shim writes. */
export const SHIM_STATE_FILES = {
  /** The plan as the agent handed it over (written by the runner). */
  plan: 'shim.plan',
  /** {"shimPid","pid","startedAt","logPath"} once the container runs. */
  state: 'state.json',
  /** {"pid","exitCode","signal","oomKilled","startedAt","finishedAt"[,"startError"]} at the end. */
  exit: 'exit.json',
  /** The shim's own diagnostics after start. */
  shimLog: 'shim.log',
  /** The attach socket, while the shim runs (plans with `attach`). */
  attachSocket: 'attach.sock',
} as const;
