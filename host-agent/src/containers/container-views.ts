import type { ContainerRecord } from './container-record.js';
import { isRunning } from './container-state.js';

/** What `docker ps` shows in its STATUS column: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created". */
export function statusText(record: ContainerRecord, now = Date.now()): string {
  const { state } = record;
  switch (state.status) {
    case 'created':
      return 'Created';
    case 'running':
      return `Up ${duration(now - Date.parse(state.startedAt ?? record.created))}${healthText(record)}`;
    case 'paused':
      return `Up ${duration(now - Date.parse(state.startedAt ?? record.created))} (Paused)`;
    case 'restarting':
      return `Restarting (${state.exitCode}) ${duration(now - Date.parse(state.finishedAt ?? record.created))} ago`;
    case 'exited':
      return `Exited (${state.exitCode}) ${duration(now - Date.parse(state.finishedAt ?? record.created))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
  }
}

/** " (healthy)", " (health: starting)" or " (unhealthy)" after "Up …", as docker ps shows it. */
function healthText(record: ContainerRecord): string {
  const health = record.state.health;
  if (!health) return '';
  return health.Status === 'starting' ? ' (health: starting)' : ` (${health.Status})`;
}

/** Docker's human durations: "Less than a second", "5 seconds", "About a minute", "3 hours". */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** What the network service says of a container (absent without bridge networks). */
export interface ContainerNetworkView {
  settings: Record<string, unknown> & { Networks: Record<string, unknown> };
  ports: { IP: string; PrivatePort: number; PublicPort: number; Type: string }[];
  names: string[];
}

/** One item of `GET /containers/json`. */
export function containerSummary(record: ContainerRecord, now = Date.now(), network?: ContainerNetworkView) {
  return {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: record.imageName,
    ImageID: record.imageId,
    Command: [record.path, ...record.args].map(quoteIfNeeded).join(' '),
    Created: Math.floor(Date.parse(record.created) / 1000),
    Ports: network?.ports ?? [],
    Labels: record.labels,
    State: record.state.status,
    Status: statusText(record, now),
    HostConfig: { NetworkMode: record.request.host.networkMode },
    NetworkSettings: { Networks: network?.settings.Networks ?? {} },
    Mounts: record.mounts.map((mount) => ({ ...mount })),
  };
}

function quoteIfNeeded(arg: string): string {
  return /[\s"']/.test(arg) ? JSON.stringify(arg) : arg;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** `GET /containers/{id}/json`, in the Engine API's shape. */
export function containerInspect(record: ContainerRecord, network?: ContainerNetworkView, directory?: string) {
  const { request, state } = record;
  return {
    Id: record.id,
    Created: record.created,
    Path: record.path,
    Args: record.args,
    State: {
      Status: state.status,
      Running: isRunning(state.status),
      Paused: state.status === 'paused',
      Restarting: state.status === 'restarting',
      OOMKilled: state.oomKilled,
      Dead: state.status === 'dead',
      Pid: isRunning(state.status) ? state.pid : 0,
      ExitCode: state.exitCode,
      Error: state.error,
      StartedAt: state.startedAt ?? ZERO_TIME,
      FinishedAt: state.finishedAt ?? ZERO_TIME,
      ...(state.health ? { Health: state.health } : {}),
    },
    Image: record.imageId,
    ResolvConfPath: network && directory ? `${directory}/resolv.conf` : '',
    HostnamePath: network && directory ? `${directory}/hostname` : '',
    HostsPath: network && directory ? `${directory}/hosts` : '',
    LogPath: '',
    Name: `/${record.name}`,
    RestartCount: state.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: request.host.binds.length ? request.host.binds : null,
      ContainerIDFile: '',
      LogConfig: { Type: 'json-file', Config: {} },
      NetworkMode: request.host.networkMode,
      // Records from before --userns existed have no usernsMode.
      UsernsMode: request.host.usernsMode ?? '',
      PortBindings: request.host.portBindings ?? {},
      PublishAllPorts: request.host.publishAllPorts ?? false,
      Dns: request.host.dns ?? [],
      DnsOptions: request.host.dnsOptions ?? [],
      DnsSearch: request.host.dnsSearch ?? [],
      ExtraHosts: request.host.extraHosts?.length ? request.host.extraHosts : null,
      RestartPolicy: {
        Name: request.host.restartPolicy.name,
        MaximumRetryCount: request.host.restartPolicy.maximumRetryCount,
      },
      AutoRemove: request.host.autoRemove,
      VolumesFrom: request.host.volumesFrom.length ? request.host.volumesFrom : null,
      CapAdd: request.host.capAdd.length ? request.host.capAdd : null,
      CapDrop: request.host.capDrop.length ? request.host.capDrop : null,
      Privileged: request.host.privileged,
      ReadonlyRootfs: request.host.readonlyRootfs,
      SecurityOpt: request.host.securityOpt.length ? request.host.securityOpt : null,
      Tmpfs: Object.keys(request.host.tmpfs).length ? request.host.tmpfs : undefined,
      Init: request.host.init || null,
      ShmSize: request.host.shmSizeBytes || 67108864,
      ConsoleSize: request.host.consoleSize ?? [0, 0],
      Devices: request.host.devices.map((device) => ({
        PathOnHost: device.pathOnHost,
        PathInContainer: device.pathInContainer,
        CgroupPermissions: device.cgroupPermissions,
      })),
      Ulimits: request.host.ulimits.map((ulimit) => ({ Name: ulimit.name, Soft: ulimit.soft, Hard: ulimit.hard })),
      Memory: 0,
      MemorySwap: 0,
      MemoryReservation: 0,
      NanoCpus: 0,
      CpuShares: 0,
      CpuPeriod: 0,
      CpuQuota: 0,
      CpusetCpus: '',
      CpusetMems: '',
      PidsLimit: null,
      BlkioWeight: 0,
      OomKillDisable: false,
      ...request.host.resources,
    },
    GraphDriver: {
      Name: 'overlay2',
      Data: {
        LowerDir: record.rootfs.lowerDirs.join(':'),
        UpperDir: record.rootfs.upperDir,
        WorkDir: record.rootfs.workDir,
        MergedDir: record.rootfs.mountTarget,
      },
    },
    Mounts: record.mounts,
    Config: {
      Hostname: record.hostname,
      Domainname: request.domainname,
      User: request.user,
      AttachStdin: request.attachStdin,
      AttachStdout: request.attachStdout,
      AttachStderr: request.attachStderr,
      ExposedPorts: request.exposedPorts.length
        ? Object.fromEntries(request.exposedPorts.map((port) => [port, {}]))
        : undefined,
      Tty: request.tty,
      OpenStdin: request.openStdin,
      StdinOnce: request.stdinOnce,
      Env: record.env,
      Cmd: request.cmd,
      Image: record.imageName,
      Volumes: request.volumes.length ? Object.fromEntries(request.volumes.map((path) => [path, {}])) : null,
      WorkingDir: record.workingDir,
      Entrypoint: request.entrypoint,
      OnBuild: null,
      Labels: record.labels,
      StopSignal: record.stopSignal,
      ...(record.healthcheck ? { Healthcheck: record.healthcheck } : {}),
      ...(record.request.stopTimeout !== null ? { StopTimeout: record.request.stopTimeout } : {}),
    },
    NetworkSettings: network?.settings ?? {
      Bridge: '',
      SandboxID: '',
      Ports: {},
      SandboxKey: '',
      Networks: {},
    },
  };
}
