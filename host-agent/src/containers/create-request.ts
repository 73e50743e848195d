import { invalidArgument } from '../engine-error.js';
import type { HealthConfig } from '../images/image-config.js';
import type { SeccompChoice } from '../seccomp/seccomp-plan.js';
import { parseSeccompProfile } from '../seccomp/seccomp-profile.js';
import { parseHealthcheck } from './health-config.js';
import { type PortRequest, parsePortBindings } from '../networks/port-bindings.js';

/*
 * The body of `POST /containers/create`, checked field by field before anything is created.
 * Unknown fields are ignored (the 28.x CLI sends fields newer than the API version it speaks);
 * known fields of the wrong type are refused with a message naming them.
 */

export interface RestartPolicy {
  name: 'no' | 'always' | 'on-failure' | 'unless-stopped';
  maximumRetryCount: number;
}

/** One `-v`/`--mount`/`--tmpfs` entry as the client asked for it, before volumes are resolved. */
export type MountRequest =
  | { type: 'bind'; source: string; target: string; readOnly: boolean; propagation?: string; createHostPath: boolean }
  | {
      type: 'volume';
      name: string | null;
      target: string;
      readOnly: boolean;
      noCopy: boolean;
      labels?: Record<string, string>;
    }
  | { type: 'tmpfs'; target: string; options: string[]; sizeBytes?: number; mode?: number };

export interface DeviceRequest {
  pathOnHost: string;
  pathInContainer: string;
  cgroupPermissions: string;
}

export interface UlimitRequest {
  name: string;
  soft: number;
  hard: number;
}

/** The cgroup resources, named and shaped as the Engine API has them. */
export interface ResourcesRequest {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  BlkioDeviceReadBps?: { Path: string; Rate: number }[];
  BlkioDeviceWriteBps?: { Path: string; Rate: number }[];
  BlkioDeviceReadIOps?: { Path: string; Rate: number }[];
  BlkioDeviceWriteIOps?: { Path: string; Rate: number }[];
  OomKillDisable?: boolean;
}

export interface CreateRequest {
  hostname: string;
  domainname: string;
  user: string;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  env: string[];
  cmd: string[] | null;
  entrypoint: string[] | null;
  image: string;
  labels: Record<string, string>;
  workingDir: string;
  stopSignal: string | null;
  stopTimeout: number | null;
  /** Anonymous volumes asked for with `-v /path` (Config.Volumes). */
  volumes: string[];
  exposedPorts: string[];
  healthcheck: HealthConfig | null;
  /** `NetworkingConfig.EndpointsConfig` by network name (records from before networks lack it). */
  endpoints?: Record<string, EndpointRequest>;
  host: {
    mounts: MountRequest[];
    resources: ResourcesRequest;
    capAdd: string[];
    capDrop: string[];
    privileged: boolean;
    readonlyRootfs: boolean;
    networkMode: string;
    /** `host` (`--userns=host`): no user namespace even when the engine remaps; '' otherwise. */
    usernsMode: '' | 'host';
    autoRemove: boolean;
    init: boolean;
    devices: DeviceRequest[];
    ulimits: UlimitRequest[];
    volumesFrom: string[];
    restartPolicy: RestartPolicy;
    securityOpt: string[];
    consoleSize: [number, number] | null;
    groupAdd: string[];
    shmSizeBytes: number;
    /** Raw, for inspect: the client's own spelling of its binds. */
    binds: string[];
    tmpfs: Record<string, string>;
    /** Networking (records from before bridges lack these). */
    dns?: string[];
    dnsSearch?: string[];
    dnsOptions?: string[];
    extraHosts?: string[];
    /** `-p` and `-P` resolved into requests; `portBindings` keeps the client's own form for inspect. */
    publish?: PortRequest[];
    portBindings?: Record<string, { HostIp: string; HostPort: string }[] | null>;
    publishAllPorts?: boolean;
  };
}

/** What a container asks of one network: aliases and a static address. */
export interface EndpointRequest {
  aliases: string[];
  ipv4Address: string;
}

const RESOURCE_NUMBERS = [
  'Memory',
  'MemorySwap',
  'MemoryReservation',
  'NanoCpus',
  'CpuShares',
  'CpuPeriod',
  'CpuQuota',
  'BlkioWeight',
] as const;
const THROTTLES = ['BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps'] as const;

export function parseCreateRequest(body: unknown): CreateRequest {
  const config = record(body, 'the request body');
  const host =
    config.HostConfig === undefined || config.HostConfig === null ? {} : record(config.HostConfig, 'HostConfig');
  const image = text(config.Image, 'Image');
  if (!image) throw invalidArgument('Image is required: name the image the container runs');

  const tmpfs = stringMap(host.Tmpfs, 'HostConfig.Tmpfs');
  const binds = strings(host.Binds, 'HostConfig.Binds');
  const mounts = [
    ...binds.map(parseBind),
    ...list(host.Mounts, 'HostConfig.Mounts').map((item, index) => parseMount(item, `HostConfig.Mounts[${index}]`)),
    ...Object.entries(tmpfs).map(([target, options]) => parseTmpfs(target, options)),
  ];
  rejectDuplicateTargets(mounts);
  const restartPolicy = parseRestartPolicy(host.RestartPolicy);
  const exposedPorts = Object.keys(
    config.ExposedPorts === undefined || config.ExposedPorts === null
      ? {}
      : record(config.ExposedPorts, 'ExposedPorts'),
  );
  const autoRemove = flag(host.AutoRemove, 'HostConfig.AutoRemove');
  if (autoRemove && restartPolicy.name !== 'no')
    throw invalidArgument(
      `a container removed on exit (--rm) cannot have the restart policy "${restartPolicy.name}": choose one of the two`,
    );

  return {
    hostname: text(config.Hostname, 'Hostname'),
    domainname: text(config.Domainname, 'Domainname'),
    user: text(config.User, 'User'),
    attachStdin: flag(config.AttachStdin, 'AttachStdin'),
    attachStdout: flag(config.AttachStdout, 'AttachStdout'),
    attachStderr: flag(config.AttachStderr, 'AttachStderr'),
    tty: flag(config.Tty, 'Tty'),
    openStdin: flag(config.OpenStdin, 'OpenStdin'),
    stdinOnce: flag(config.StdinOnce, 'StdinOnce'),
    env: strings(config.Env, 'Env').map((entry) => checkEnv(entry)),
    cmd: command(config.Cmd, 'Cmd'),
    entrypoint: command(config.Entrypoint, 'Entrypoint'),
    image,
    labels: stringMap(config.Labels, 'Labels'),
    workingDir: checkWorkingDir(text(config.WorkingDir, 'WorkingDir')),
    stopSignal: text(config.StopSignal, 'StopSignal') || null,
    stopTimeout:
      config.StopTimeout === undefined || config.StopTimeout === null
        ? null
        : integer(config.StopTimeout, 'StopTimeout'),
    volumes: Object.keys(
      config.Volumes === undefined || config.Volumes === null ? {} : record(config.Volumes, 'Volumes'),
    ).map((target) => absolute(target, 'Volumes')),
    exposedPorts,
    healthcheck: parseHealthcheck(config.Healthcheck),
    host: {
      mounts,
      resources: parseResources(host),
      capAdd: strings(host.CapAdd, 'HostConfig.CapAdd'),
      capDrop: strings(host.CapDrop, 'HostConfig.CapDrop'),
      privileged: flag(host.Privileged, 'HostConfig.Privileged'),
      readonlyRootfs: flag(host.ReadonlyRootfs, 'HostConfig.ReadonlyRootfs'),
      networkMode: text(host.NetworkMode, 'HostConfig.NetworkMode') || 'default',
      usernsMode: parseUsernsMode(host.UsernsMode),
      autoRemove,
      init: flag(host.Init, 'HostConfig.Init'),
      devices: list(host.Devices, 'HostConfig.Devices').map((item, index) =>
        parseDevice(item, `HostConfig.Devices[${index}]`),
      ),
      ulimits: list(host.Ulimits, 'HostConfig.Ulimits').map((item, index) =>
        parseUlimit(item, `HostConfig.Ulimits[${index}]`),
      ),
      volumesFrom: strings(host.VolumesFrom, 'HostConfig.VolumesFrom'),
      restartPolicy,
      securityOpt: checkSecurityOptions(strings(host.SecurityOpt, 'HostConfig.SecurityOpt')),
      consoleSize: parseConsoleSize(host.ConsoleSize),
      groupAdd: strings(host.GroupAdd, 'HostConfig.GroupAdd'),
      shmSizeBytes:
        host.ShmSize === undefined || host.ShmSize === null ? 0 : nonNegative(host.ShmSize, 'HostConfig.ShmSize'),
      binds,
      tmpfs,
      dns: strings(host.Dns, 'HostConfig.Dns'),
      dnsSearch: strings(host.DnsSearch, 'HostConfig.DnsSearch'),
      dnsOptions: strings(host.DnsOptions, 'HostConfig.DnsOptions'),
      extraHosts: strings(host.ExtraHosts, 'HostConfig.ExtraHosts'),
      publish: parsePortBindings(
        host.PortBindings,
        exposedPorts,
        flag(host.PublishAllPorts, 'HostConfig.PublishAllPorts'),
      ),
      portBindings: portBindingsForInspect(host.PortBindings),
      publishAllPorts: flag(host.PublishAllPorts, 'HostConfig.PublishAllPorts'),
    },
    endpoints: parseEndpoints(config.NetworkingConfig),
  };
}

function portBindingsForInspect(value: unknown): Record<string, { HostIp: string; HostPort: string }[] | null> {
  if (value === undefined || value === null) return {};
  const result: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const [key, bindings] of Object.entries(value as Record<string, unknown>)) {
    result[key] = Array.isArray(bindings)
      ? (bindings as { HostIp?: string; HostPort?: string }[]).map((binding) => ({
          HostIp: binding?.HostIp ?? '',
          HostPort: binding?.HostPort ?? '',
        }))
      : null;
  }
  return result;
}

/** `NetworkingConfig.EndpointsConfig`: per network, `Aliases` and `IPAMConfig.IPv4Address`. */
function parseEndpoints(value: unknown): Record<string, EndpointRequest> {
  if (value === undefined || value === null) return {};
  const networking = record(value, 'NetworkingConfig');
  if (networking.EndpointsConfig === undefined || networking.EndpointsConfig === null) return {};
  const endpoints: Record<string, EndpointRequest> = {};
  for (const [name, raw] of Object.entries(record(networking.EndpointsConfig, 'NetworkingConfig.EndpointsConfig'))) {
    endpoints[name] = parseEndpointConfig(raw, `NetworkingConfig.EndpointsConfig[${name}]`);
  }
  return endpoints;
}

/** One endpoint's settings, as create and `POST /networks/{id}/connect` send them. */
export function parseEndpointConfig(value: unknown, where: string): EndpointRequest {
  if (value === undefined || value === null) return { aliases: [], ipv4Address: '' };
  const endpoint = record(value, where);
  const ipam =
    endpoint.IPAMConfig === undefined || endpoint.IPAMConfig === null
      ? {}
      : record(endpoint.IPAMConfig, `${where}.IPAMConfig`);
  const aliases = strings(endpoint.Aliases, `${where}.Aliases`);
  for (const alias of aliases) {
    if (!/^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/.test(alias))
      throw invalidArgument(`invalid network alias ${JSON.stringify(alias)}`);
  }
  return { aliases, ipv4Address: text(ipam.IPv4Address, `${where}.IPAMConfig.IPv4Address`) };
}

/** `--userns`: dockerd knows only `host` (and empty, the engine's choice). */
function parseUsernsMode(value: unknown): '' | 'host' {
  const mode = text(value, 'HostConfig.UsernsMode');
  if (mode === '' || mode === 'host') return mode;
  throw invalidArgument(
    `invalid HostConfig.UsernsMode ${JSON.stringify(mode)}: use host (--userns=host) or leave it empty`,
  );
}

/** What `--security-opt` asks for; the options themselves stay in the request as the client sent them (inspect shows them). */
export interface SecurityOptions {
  noNewPrivileges: boolean;
  seccomp: SeccompChoice;
}

/** Go's strconv.ParseBool, which dockerd uses for `no-new-privileges=…`. */
const GO_BOOLEANS: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

/**
 * `HostConfig.SecurityOpt` by dockerd's rules (daemon parseSecurityOpt): `no-new-privileges`
 * alone or `=bool`; `seccomp=builtin|unconfined|<profile JSON>` (the docker CLI replaces a file
 * name with the file's JSON); `label=…` and `apparmor=…` are accepted and have no effect, as on a
 * host without SELinux or AppArmor. `key:value` is the old spelling of `key=value`.
 * Throws invalid-argument naming the bad option (and, for a profile, the bad field).
 */
export function parseSecurityOptions(options: readonly string[]): SecurityOptions {
  const result: SecurityOptions = { noNewPrivileges: false, seccomp: { kind: 'builtin' } };
  for (const option of options) {
    if (option === 'no-new-privileges') {
      result.noNewPrivileges = true;
      continue;
    }
    if (option === 'disable') continue; // `label=disable`'s old spelling
    const separator = option.includes('=') ? option.indexOf('=') : option.indexOf(':');
    const key = separator < 0 ? option : option.slice(0, separator);
    const value = separator < 0 ? '' : option.slice(separator + 1);
    const quoted = JSON.stringify(option.length > 80 ? `${option.slice(0, 80)}…` : option);
    if (separator < 0) {
      throw invalidArgument(`invalid --security-opt ${quoted}: expected key=value (or no-new-privileges)`);
    }
    switch (key) {
      case 'label':
      case 'apparmor':
        break;
      case 'no-new-privileges': {
        const flag = GO_BOOLEANS[value];
        if (flag === undefined) throw invalidArgument(`invalid --security-opt ${quoted}: ${key} takes true or false`);
        result.noNewPrivileges = flag;
        break;
      }
      case 'seccomp':
        result.seccomp = parseSeccompOption(value);
        break;
      default:
        throw invalidArgument(
          `invalid --security-opt ${quoted}: unknown option "${key}" (one of seccomp, no-new-privileges, apparmor, label)`,
        );
    }
  }
  return result;
}

function parseSeccompOption(value: string): SeccompChoice {
  if (value === 'builtin' || value === '') return { kind: 'builtin' };
  if (value === 'unconfined') return { kind: 'unconfined' };
  if (!value.trimStart().startsWith('{')) {
    throw invalidArgument(
      `invalid --security-opt seccomp=${value}: expected builtin, unconfined or a profile's JSON ` +
        '(the docker CLI sends the content of a profile file; an API client must send the JSON itself)',
    );
  }
  return { kind: 'profile', profile: parseSeccompProfile(value) };
}

function checkSecurityOptions(options: string[]): string[] {
  parseSecurityOptions(options);
  return options;
}

/** `-v SRC:DST[:OPTS]`: an absolute SRC is a bind mount, anything else names a volume. */
export function parseBind(spec: string): MountRequest {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((part, index) => part === '' && index < 2)) {
    throw invalidArgument(`invalid volume specification: "${spec}" (expected SOURCE:TARGET[:OPTIONS])`);
  }
  const [source, rawTarget, rawOptions = ''] = parts as [string, string, string?];
  const target = absolute(rawTarget, `volume specification "${spec}"`);
  let readOnly = false;
  let propagation: string | undefined;
  let noCopy = false;
  for (const option of rawOptions.split(',').filter(Boolean)) {
    if (option === 'ro' || option === 'rw') readOnly = option === 'ro';
    else if (PROPAGATIONS.has(option)) propagation = option;
    else if (option === 'nocopy') noCopy = true;
    else if (option === 'z' || option === 'Z')
      continue; // SELinux relabelling: no SELinux here
    else throw invalidArgument(`invalid mode "${option}" in volume specification "${spec}"`);
  }
  if (source.startsWith('/')) {
    if (noCopy) throw invalidArgument(`"nocopy" applies to volumes, not to the bind mount "${spec}"`);
    return { type: 'bind', source: checkHostPath(source, spec), target, readOnly, propagation, createHostPath: true };
  }
  if (propagation)
    throw invalidArgument(`propagation "${propagation}" applies to bind mounts, not to the volume "${spec}"`);
  return { type: 'volume', name: checkVolumeName(source, spec), target, readOnly, noCopy };
}

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

function parseMount(value: unknown, where: string): MountRequest {
  const mount = record(value, where);
  const type = text(mount.Type, `${where}.Type`);
  const target = absolute(text(mount.Target, `${where}.Target`), `${where}.Target`);
  const readOnly = flag(mount.ReadOnly, `${where}.ReadOnly`);
  const source = text(mount.Source, `${where}.Source`);
  switch (type) {
    case 'bind': {
      if (!source.startsWith('/'))
        throw invalidArgument(`${where}.Source must be an absolute host path for a bind mount`);
      const options = mount.BindOptions ? record(mount.BindOptions, `${where}.BindOptions`) : {};
      const propagation = text(options.Propagation, `${where}.BindOptions.Propagation`) || undefined;
      if (propagation && !PROPAGATIONS.has(propagation))
        throw invalidArgument(`${where}.BindOptions.Propagation: unknown propagation "${propagation}"`);
      // --mount type=bind refuses a missing source, unlike -v.
      return {
        type: 'bind',
        source: checkHostPath(source, where),
        target,
        readOnly,
        propagation,
        createHostPath: false,
      };
    }
    case 'volume': {
      const options = mount.VolumeOptions ? record(mount.VolumeOptions, `${where}.VolumeOptions`) : {};
      return {
        type: 'volume',
        name: source ? checkVolumeName(source, where) : null,
        target,
        readOnly,
        noCopy: flag(options.NoCopy, `${where}.VolumeOptions.NoCopy`),
        labels: stringMap(options.Labels, `${where}.VolumeOptions.Labels`),
      };
    }
    case 'tmpfs': {
      if (source) throw invalidArgument(`${where}.Source must be empty for a tmpfs mount`);
      const options = mount.TmpfsOptions ? record(mount.TmpfsOptions, `${where}.TmpfsOptions`) : {};
      const sizeBytes =
        options.SizeBytes === undefined ? undefined : nonNegative(options.SizeBytes, `${where}.TmpfsOptions.SizeBytes`);
      const mode = options.Mode === undefined ? undefined : nonNegative(options.Mode, `${where}.TmpfsOptions.Mode`);
      return { type: 'tmpfs', target, options: readOnly ? ['ro'] : [], sizeBytes: sizeBytes || undefined, mode };
    }
    default:
      throw invalidArgument(`${where}.Type "${type}" is not supported (bind, volume or tmpfs)`);
  }
}

/** `--tmpfs /t:size=1m,mode=1777`: options as mount(8) takes them for tmpfs. */
export function parseTmpfs(target: string, options: string): MountRequest {
  const checkedTarget = absolute(target, 'HostConfig.Tmpfs');
  const rest: string[] = [];
  let sizeBytes: number | undefined;
  let mode: number | undefined;
  for (const option of options.split(',').filter(Boolean)) {
    const [key, value] = option.split('=', 2) as [string, string?];
    if (key === 'size') sizeBytes = parseSize(value ?? '', `tmpfs ${target}`);
    else if (key === 'mode') {
      if (!/^[0-7]{1,4}$/.test(value ?? ''))
        throw invalidArgument(`tmpfs ${target}: mode must be octal, not "${value}"`);
      mode = parseInt(value!, 8);
    } else if (TMPFS_OPTIONS.has(key)) rest.push(option);
    else throw invalidArgument(`tmpfs ${target}: unknown option "${option}"`);
  }
  return { type: 'tmpfs', target: checkedTarget, options: rest, sizeBytes, mode };
}

const TMPFS_OPTIONS = new Set([
  'ro',
  'rw',
  'noexec',
  'exec',
  'nosuid',
  'suid',
  'nodev',
  'dev',
  'uid',
  'gid',
  'nr_inodes',
  'huge',
  'nr_blocks',
  'mpol',
]);

/** `1m`, `64k`, `1g`, `1048576`: what docker and tmpfs accept. */
export function parseSize(value: string, what: string): number {
  const match = /^(\d+)([kmgt]?)b?$/i.exec(value.trim());
  if (!match) throw invalidArgument(`${what}: size must be a number with an optional k, m or g suffix, not "${value}"`);
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(match[1]) * 1024 ** power;
}

function parseResources(host: Record<string, unknown>): ResourcesRequest {
  const resources: ResourcesRequest = {};
  for (const key of RESOURCE_NUMBERS) {
    if (host[key] !== undefined && host[key] !== null) resources[key] = integer(host[key], `HostConfig.${key}`);
  }
  if (host.PidsLimit !== undefined && host.PidsLimit !== null)
    resources.PidsLimit = integer(host.PidsLimit, 'HostConfig.PidsLimit');
  for (const key of ['CpusetCpus', 'CpusetMems'] as const) {
    const value = text(host[key], `HostConfig.${key}`);
    if (value) resources[key] = value;
  }
  for (const key of THROTTLES) {
    const entries = list(host[key], `HostConfig.${key}`).map((item, index) => {
      const entry = record(item, `HostConfig.${key}[${index}]`);
      return {
        Path: text(entry.Path, `HostConfig.${key}[${index}].Path`),
        Rate: nonNegative(entry.Rate, `HostConfig.${key}[${index}].Rate`),
      };
    });
    if (entries.length) resources[key] = entries;
  }
  if (host.OomKillDisable !== undefined && host.OomKillDisable !== null)
    resources.OomKillDisable = flag(host.OomKillDisable, 'HostConfig.OomKillDisable');
  return resources;
}

function parseDevice(value: unknown, where: string): DeviceRequest {
  const device = record(value, where);
  const pathOnHost = text(device.PathOnHost, `${where}.PathOnHost`);
  if (!pathOnHost.startsWith('/'))
    throw invalidArgument(`${where}.PathOnHost must be an absolute path, not "${pathOnHost}"`);
  const pathInContainer = text(device.PathInContainer, `${where}.PathInContainer`) || pathOnHost;
  const cgroupPermissions = text(device.CgroupPermissions, `${where}.CgroupPermissions`) || 'rwm';
  if (!/^[rwm]{1,3}$/.test(cgroupPermissions))
    throw invalidArgument(`${where}.CgroupPermissions must be made of r, w and m`);
  return { pathOnHost, pathInContainer: absolute(pathInContainer, `${where}.PathInContainer`), cgroupPermissions };
}

function parseUlimit(value: unknown, where: string): UlimitRequest {
  const ulimit = record(value, where);
  const soft = integer(ulimit.Soft, `${where}.Soft`);
  const hard = integer(ulimit.Hard, `${where}.Hard`);
  if (soft > hard && hard !== -1)
    throw invalidArgument(`${where}: the soft limit ${soft} is above the hard limit ${hard}`);
  return { name: text(ulimit.Name, `${where}.Name`), soft, hard };
}

function parseRestartPolicy(value: unknown): RestartPolicy {
  if (value === undefined || value === null) return { name: 'no', maximumRetryCount: 0 };
  const policy = record(value, 'HostConfig.RestartPolicy');
  const name = text(policy.Name, 'HostConfig.RestartPolicy.Name') || 'no';
  if (name !== 'no' && name !== 'always' && name !== 'on-failure' && name !== 'unless-stopped') {
    throw invalidArgument(`unknown restart policy "${name}" (no, always, on-failure, unless-stopped)`);
  }
  const maximumRetryCount =
    policy.MaximumRetryCount === undefined
      ? 0
      : nonNegative(policy.MaximumRetryCount, 'HostConfig.RestartPolicy.MaximumRetryCount');
  if (maximumRetryCount > 0 && name !== 'on-failure') {
    throw invalidArgument(`a maximum retry count applies only to the on-failure restart policy, not "${name}"`);
  }
  return { name, maximumRetryCount };
}

function parseConsoleSize(value: unknown): [number, number] | null {
  if (value === undefined || value === null) return null;
  const size = list(value, 'HostConfig.ConsoleSize');
  if (size.length !== 2) throw invalidArgument('HostConfig.ConsoleSize must be [height, width]');
  const [height, width] = size.map((item) => nonNegative(item, 'HostConfig.ConsoleSize')) as [number, number];
  return height === 0 && width === 0 ? null : [height, width];
}

function rejectDuplicateTargets(mounts: MountRequest[]): void {
  const seen = new Set<string>();
  for (const mount of mounts) {
    const target = mount.target.replace(/\/+$/, '') || '/';
    if (seen.has(target)) throw invalidArgument(`duplicate mount point: ${target}`);
    seen.add(target);
  }
}

function checkEnv(entry: string): string {
  if (!entry || entry.startsWith('=')) throw invalidArgument(`invalid environment variable: "${entry}"`);
  if (entry.includes('\0')) throw invalidArgument('environment variables must not contain NUL bytes');
  return entry;
}

function checkWorkingDir(dir: string): string {
  if (dir && !dir.startsWith('/'))
    throw invalidArgument(`the working directory "${dir}" is invalid: it needs to be an absolute path`);
  return dir;
}

function checkHostPath(path: string, where: string): string {
  if (path.includes('\0')) throw invalidArgument(`${where}: the host path must not contain NUL bytes`);
  return path;
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function checkVolumeName(name: string, where: string): string {
  if (!VOLUME_NAME.test(name)) {
    throw invalidArgument(
      `"${name}" in ${where} is not a valid volume name: use letters, digits, "_", "." or "-" (an absolute path makes a bind mount)`,
    );
  }
  return name;
}

function absolute(path: string, where: string): string {
  if (!path.startsWith('/')) throw invalidArgument(`${where}: the container path "${path}" must be absolute`);
  if (path.includes('\0')) throw invalidArgument(`${where}: the container path must not contain NUL bytes`);
  if (path.split('/').includes('..'))
    throw invalidArgument(`${where}: the container path "${path}" must not contain ".."`);
  return path;
}

// ---- JSON shape checks -------------------------------------------------------------------------

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgument(`${where} must be a JSON object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidArgument(`${where} must be a JSON array`);
  return value;
}

function strings(value: unknown, where: string): string[] {
  return list(value, where).map((item, index) => {
    if (typeof item !== 'string') throw invalidArgument(`${where}[${index}] must be a string`);
    return item;
  });
}

function command(value: unknown, where: string): string[] | null {
  if (value === undefined || value === null) return null;
  // Docker takes a single string too and splits nothing: it is one argument.
  if (typeof value === 'string') return [value];
  return strings(value, where);
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  const map = record(value, where);
  for (const [key, item] of Object.entries(map)) {
    if (typeof item !== 'string') throw invalidArgument(`${where}["${key}"] must be a string`);
  }
  return map as Record<string, string>;
}

function text(value: unknown, where: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalidArgument(`${where} must be a string`);
  return value;
}

function flag(value: unknown, where: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw invalidArgument(`${where} must be true or false`);
  return value;
}

function integer(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalidArgument(`${where} must be an integer`);
  return value;
}

function nonNegative(value: unknown, where: string): number {
  const number = integer(value, where);
  if (number < 0) throw invalidArgument(`${where} must not be negative`);
  return number;
}
