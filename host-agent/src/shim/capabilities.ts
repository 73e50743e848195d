/**
 * Linux capabilities by name and number, and Docker's rules for the set a container gets
 * (`--cap-add`, `--cap-drop`, `--privileged`).
 */

/** Capability numbers of linux/capability.h, in order (0 … 40). */
export const CAPABILITY_NAMES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** A capability by its name (`CAP_NET_ADMIN`) or number (12). */
export type Capability = CapabilityName | number;

/** The 14 capabilities a Docker container gets by default (moby's defaultCapabilities). */
export const DOCKER_DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export class CapabilityError extends Error {
  override name = 'CapabilityError';
  readonly kind = 'invalid-argument' as const;
}

/** The number of a capability given by name or number. */
export function capabilityNumber(capability: Capability): number {
  if (typeof capability === 'number') {
    if (!Number.isInteger(capability) || capability < 0 || capability > 63) {
      throw new CapabilityError(`invalid capability number: ${capability}`);
    }
    return capability;
  }
  const index = CAPABILITY_NAMES.indexOf(capability);
  if (index < 0) throw new CapabilityError(`unknown capability: ${JSON.stringify(capability)}`);
  return index;
}

/** A set of capabilities as the 64-bit mask the kernel uses (bit n = capability n). */
export function capabilityMask(capabilities: readonly Capability[]): bigint {
  let mask = 0n;
  for (const capability of capabilities) mask |= 1n << BigInt(capabilityNumber(capability));
  return mask;
}

/** The capabilities of a mask such as /proc/<pid>/status's CapBnd, by name, in number order. */
export function capabilitiesInMask(mask: bigint): CapabilityName[] {
  return CAPABILITY_NAMES.filter((name) => (mask >> BigInt(capabilityNumber(name))) & 1n);
}

/**
 * Docker's spelling of a capability in `--cap-add`/`--cap-drop`: any case, with or without
 * the `CAP_` prefix, or `ALL`.
 */
export function normaliseCapability(spelling: string): CapabilityName | 'ALL' {
  const upper = spelling.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(CAPABILITY_NAMES as readonly string[]).includes(name)) {
    throw new CapabilityError(`unknown capability: ${JSON.stringify(spelling)}`);
  }
  return name as CapabilityName;
}

export interface CapabilityRequest {
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
  /**
   * What "all" means on this host: the capabilities the agent itself holds in its bounding
   * set (a kernel or an outer container may offer fewer than CAPABILITY_NAMES lists). Defaults
   * to every capability this table knows.
   */
  available?: readonly CapabilityName[];
}

/**
 * The container's capability set, by Docker's rules: `--privileged` gets all; `--cap-add ALL`
 * gets all but the dropped; `--cap-drop ALL` gets only the added; otherwise the default 14,
 * minus the dropped, plus the added. Returned in capability-number order, without duplicates.
 */
export function computeCapabilities(request: CapabilityRequest = {}): CapabilityName[] {
  const all = request.available ?? CAPABILITY_NAMES;
  const adds = (request.capAdd ?? []).map(normaliseCapability);
  const drops = (request.capDrop ?? []).map(normaliseCapability);
  let result: CapabilityName[];
  if (request.privileged) {
    result = [...all];
  } else if (adds.includes('ALL')) {
    result = all.filter((cap) => !drops.includes(cap));
  } else if (drops.includes('ALL')) {
    result = adds.filter((cap): cap is CapabilityName => cap !== 'ALL');
  } else {
    result = [
      ...DOCKER_DEFAULT_CAPABILITIES.filter((cap) => !drops.includes(cap)),
      ...adds.filter((cap): cap is CapabilityName => cap !== 'ALL'),
    ];
  }
  return [...new Set(result)].sort((a, b) => capabilityNumber(a) - capabilityNumber(b));
}

/**
 * The five sets the process gets. Like Docker since 23.0 (CVE-2022-24769), the inheritable
 * and ambient sets stay empty; a non-root user then keeps no capability across execve.
 */
export function processCapabilities(capabilities: readonly CapabilityName[]) {
  return {
    bounding: [...capabilities],
    effective: [...capabilities],
    permitted: [...capabilities],
    inheritable: [] as CapabilityName[],
    ambient: [] as CapabilityName[],
  };
}
