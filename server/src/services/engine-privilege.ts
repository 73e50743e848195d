/*
 * What makes an Engine API call "privileged": anything that reaches past the container's own
 * sandbox into the host (privileged mode, host paths, added capabilities, the host's namespaces,
 * devices, a weakened security profile). Such a call needs `container.privileged` on top of the
 * route's own permission.
 *
 * The engine's Go-derived clients send these fields in Docker's casing, but Go's JSON decoding
 * matches keys case-insensitively, so this check does too: a `privileged: true` is treated as
 * `Privileged: true` whether or not the engine would honour it.
 */

type Json = Record<string, unknown>;

/** The field of `object` named `name` in any letter case. */
function field(object: unknown, name: string): unknown {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(object as Json)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function nonEmptyArray(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.length > 0;
}

function isHostMode(value: unknown): boolean {
  return typeof value === 'string' && value.toLowerCase() === 'host';
}

/** `-v /src:/dst` names a host path; `-v name:/dst` a volume. */
function bindSource(bind: unknown): string | undefined {
  if (typeof bind !== 'string') return undefined;
  const source = bind.split(':')[0];
  return source.startsWith('/') ? source : undefined;
}

/** Options of the local volume driver that mount a host path or device (`type=none,o=bind,device=/etc`). */
function hostDeviceOfDriverOptions(options: unknown): string | undefined {
  const device = field(options, 'device');
  return typeof device === 'string' && device !== '' ? device : undefined;
}

/** Why a security option weakens the container's confinement, or undefined when it does not. */
function weakeningSecurityOption(option: unknown): string | undefined {
  if (typeof option !== 'string') return `security option ${JSON.stringify(option)}`;
  const normalised = option.toLowerCase().replace(':', '=');
  if (normalised === 'no-new-privileges' || normalised === 'no-new-privileges=true') return undefined;
  return `security option ${option}`;
}

function containerCreateReasons(body: unknown): string[] {
  const reasons: string[] = [];
  const host = field(body, 'HostConfig');
  if (field(host, 'Privileged') === true) reasons.push('privileged mode');
  const binds = field(host, 'Binds');
  if (Array.isArray(binds)) {
    for (const bind of binds) {
      const source = bindSource(bind);
      if (source !== undefined) reasons.push(`host bind mount of ${source}`);
    }
  }
  const mounts = field(host, 'Mounts');
  if (Array.isArray(mounts)) {
    for (const mount of mounts) {
      const type = field(mount, 'Type');
      if (typeof type === 'string' && type.toLowerCase() === 'bind') {
        reasons.push(`host bind mount of ${String(field(mount, 'Source'))}`);
      }
      const device = hostDeviceOfDriverOptions(field(field(field(mount, 'VolumeOptions'), 'DriverConfig'), 'Options'));
      if (device !== undefined) reasons.push(`a volume on the host path ${device}`);
    }
  }
  const capAdd = field(host, 'CapAdd');
  if (nonEmptyArray(capAdd)) reasons.push(`added capabilities ${capAdd.map(String).join(', ')}`);
  for (const [name, what] of [
    ['NetworkMode', 'the host network'],
    ['PidMode', "the host's process namespace"],
    ['IpcMode', "the host's IPC namespace"],
    ['UTSMode', "the host's UTS namespace"],
    ['UsernsMode', "the host's user namespace"],
    ['CgroupnsMode', "the host's cgroup namespace"],
  ] as const) {
    if (isHostMode(field(host, name))) reasons.push(what);
  }
  if (nonEmptyArray(field(host, 'Devices'))) reasons.push('host devices');
  if (nonEmptyArray(field(host, 'DeviceCgroupRules'))) reasons.push('device cgroup rules');
  if (nonEmptyArray(field(host, 'DeviceRequests'))) reasons.push('device requests');
  const securityOptions = field(host, 'SecurityOpt');
  if (Array.isArray(securityOptions)) {
    for (const option of securityOptions) {
      const reason = weakeningSecurityOption(option);
      if (reason !== undefined) reasons.push(reason);
    }
  }
  const cgroupParent = field(host, 'CgroupParent');
  if (typeof cgroupParent === 'string' && cgroupParent !== '') reasons.push(`cgroup parent ${cgroupParent}`);
  return reasons;
}

/**
 * The privileged things an Engine API call asks for, in words for the refusal; empty when it asks
 * for none. `routeKey` is the route table's key, `query` the call's query parameters.
 */
export function privilegedReasons(routeKey: string, body: unknown, query: URLSearchParams): string[] {
  switch (routeKey) {
    case 'POST /containers/create':
      return containerCreateReasons(body);
    case 'POST /containers/{id}/exec':
      return field(body, 'Privileged') === true ? ['a privileged exec'] : [];
    case 'POST /volumes/create': {
      const device = hostDeviceOfDriverOptions(field(body, 'DriverOpts'));
      return device === undefined ? [] : [`a volume on the host path ${device}`];
    }
    case 'POST /build':
      return isHostMode(query.get('networkmode')) ? ['a build on the host network'] : [];
    default:
      return [];
  }
}
