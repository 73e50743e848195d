import { release } from 'node:os';
import { planSeccomp } from '../seccomp/seccomp-plan.js';
import type { CapabilityName } from '../shim/capabilities.js';
import { computeCapabilities, processCapabilities } from '../shim/capabilities.js';
import { type CgroupView, dockerFilesystem } from '../shim/docker-filesystem.js';
import type {
  NamespaceKind,
  RlimitName,
  ShimDevice,
  ShimMount,
  ShimPlan,
  ShimRootfs,
  ShimSeccomp,
} from '../shim/shim-plan.js';
import { RLIMIT_NAMES } from '../shim/shim-plan.js';
import { invalidArgument } from '../engine-error.js';
import { parseSecurityOptions, type CreateRequest } from './create-request.js';
import type { ResolvedUser } from './process-config.js';
import type { IdMap } from '../userns/id-map.js';

/** A mount whose source is known on the host: binds and volumes resolved, tmpfs options final. */
export type ResolvedMount =
  | { kind: 'bind'; source: string; target: string; readOnly: boolean; propagation?: string }
  | { kind: 'tmpfs'; target: string; readOnly: boolean; data: string; flags: string[] };

export interface RuntimePlanInput {
  request: CreateRequest;
  hostname: string;
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  rootfs: ShimRootfs;
  mounts: ResolvedMount[];
  devices: ShimDevice[];
  /** With --privileged: every node of the host's /dev. */
  hostDevices?: ShimDevice[];
  cgroup?: { paths: string[]; oomEventsFile?: string };
  cgroupView: CgroupView;
  stateDir: string;
  logPath: string;
  /** What "all capabilities" means on this host. */
  availableCapabilities?: readonly CapabilityName[];
  /** The host, for the seccomp filter: `process.arch` and `uname -r` unless given. */
  host?: { arch: string; kernelRelease: string };
  /** The engine's user namespace remapping, unless the container runs with `--userns=host`. */
  ids?: IdMap;
  /** `--network container:<id>`: that container's network namespace, joined instead of a new one. */
  joinNetwork?: string;
  /** The engine has bridge networks (which checked the network mode at create). */
  networksManaged?: boolean;
}

/** Everything skiff-shim needs to run one container, decided here and nowhere else. */
export function buildShimPlan(input: RuntimePlanInput): ShimPlan {
  const { request } = input;
  const networkMode = request.host.networkMode;
  const namespaces: NamespaceKind[] = ['mount', 'pid', 'uts', 'ipc', 'cgroup'];
  if (input.ids) namespaces.push('user');
  // Every mode but host and container:<id> gets a namespace of its own; on a bridge network the
  // agent wires it while pid 1 waits before execve.
  const joinsNetwork = networkMode.startsWith('container:');
  if (networkMode !== 'host' && !joinsNetwork) namespaces.push('net');
  if (joinsNetwork && !input.joinNetwork) {
    throw invalidArgument(`network mode "${networkMode}" needs the other container's namespace`);
  }
  if (
    !input.networksManaged &&
    networkMode !== 'host' &&
    networkMode !== 'none' &&
    networkMode !== 'default' &&
    networkMode !== 'bridge'
  ) {
    throw invalidArgument(`network mode "${networkMode}" is not supported yet: use default, bridge, none or host`);
  }
  const filesystem = dockerFilesystem({
    privileged: request.host.privileged,
    cgroup: input.cgroupView,
    shmSizeBytes: request.host.shmSizeBytes || undefined,
    devices: input.devices,
    hostDevices: input.hostDevices,
  });
  const capabilities = computeCapabilities({
    capAdd: request.host.capAdd,
    capDrop: request.host.capDrop,
    privileged: request.host.privileged,
    available: input.availableCapabilities,
  });
  const security = parseSecurityOptions(request.host.securityOpt);
  return {
    stateDir: input.stateDir,
    logPath: input.logPath,
    namespaces,
    ...(input.ids ? { uidMappings: [...input.ids.uids], gidMappings: [...input.ids.gids] } : {}),
    rootfs: input.rootfs,
    readonlyRootfs: request.host.readonlyRootfs,
    mounts: [...filesystem.mounts, ...sortByDepth(input.mounts).map(toShimMount)],
    devices: filesystem.devices,
    symlinks: filesystem.symlinks,
    maskedPaths: filesystem.maskedPaths,
    readonlyPaths: filesystem.readonlyPaths,
    hostname: networkMode === 'host' ? undefined : input.hostname,
    domainname: request.domainname || undefined,
    loopbackUp: networkMode !== 'host' && !joinsNetwork,
    ...(input.joinNetwork ? { joinNamespaces: [{ kind: 'net' as const, path: input.joinNetwork }] } : {}),
    cgroup: input.cgroup,
    capabilities: processCapabilities(capabilities),
    rlimits: request.host.ulimits.map((ulimit) => ({
      type: rlimitName(ulimit.name),
      soft: ulimit.soft === -1 ? 'unlimited' : ulimit.soft,
      hard: ulimit.hard === -1 ? 'unlimited' : ulimit.hard,
    })),
    user: { uid: input.user.uid, gid: input.user.gid, additionalGids: input.user.additionalGids },
    cwd: input.cwd,
    env: input.env,
    args: input.args,
    noNewPrivileges: security.noNewPrivileges,
    seccomp: containerSeccomp(request, capabilities, input.host),
    stdio: { stdin: { kind: 'null' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
  };
}

/**
 * The container's seccomp filter; `docker exec` loads the same one (runc's exec does too, even
 * with `--privileged`), so the exec service builds it from the same request and capabilities.
 */
export function containerSeccomp(
  request: CreateRequest,
  capabilities: readonly CapabilityName[],
  host: { arch: string; kernelRelease: string } = { arch: process.arch, kernelRelease: release() },
): ShimSeccomp | undefined {
  return planSeccomp({
    choice: parseSecurityOptions(request.host.securityOpt).seccomp,
    privileged: request.host.privileged,
    capabilities,
    hostArch: host.arch,
    kernelRelease: host.kernelRelease,
  });
}

function rlimitName(name: string): RlimitName {
  if (!(RLIMIT_NAMES as readonly string[]).includes(name)) {
    throw invalidArgument(`unknown ulimit "${name}" (one of ${RLIMIT_NAMES.join(', ')})`);
  }
  return name as RlimitName;
}

/** Parents before children, so `/data` is mounted before `/data/cache`. */
function sortByDepth(mounts: ResolvedMount[]): ResolvedMount[] {
  const depth = (path: string) => path.split('/').filter(Boolean).length;
  return [...mounts].sort((a, b) => depth(a.target) - depth(b.target));
}

function toShimMount(mount: ResolvedMount): ShimMount {
  switch (mount.kind) {
    case 'bind':
      return {
        type: 'bind',
        source: mount.source,
        target: mount.target,
        flags: mount.readOnly ? ['rec', 'rdonly'] : ['rec'],
        propagation: (mount.propagation as ShimMount['propagation']) ?? 'rprivate',
      };
    case 'tmpfs':
      return {
        type: 'tmpfs',
        source: 'tmpfs',
        target: mount.target,
        flags: tmpfsFlags(mount),
        data: mount.data,
      };
  }
}

/** Docker mounts a --tmpfs noexec, nosuid and nodev unless told `exec`, `suid` or `dev`. */
function tmpfsFlags(mount: { readOnly: boolean; flags: string[] }): NonNullable<ShimMount['flags']> {
  const given = new Set(mount.flags);
  const flags: NonNullable<ShimMount['flags']> = [];
  if (mount.readOnly || given.has('ro')) flags.push('rdonly');
  if (!given.has('exec')) flags.push('noexec');
  if (!given.has('suid')) flags.push('nosuid');
  if (!given.has('dev')) flags.push('nodev');
  return flags;
}
