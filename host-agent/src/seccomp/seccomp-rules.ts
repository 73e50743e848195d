/**
 * A Docker seccomp profile, narrowed to one container on this host, as Docker and runc narrow it:
 * the host's architecture picks the filter's architectures from `archMap`; a rule applies only
 * when its `includes` hold and its `excludes` do not (the container's capabilities, the host's
 * architecture, the kernel's version); names are turned into numbers per architecture, and names
 * an architecture does not have are skipped (runc: "unknown syscall ignored").
 */
import { invalidArgument } from '../engine-error.js';
import type {
  SeccompActionName,
  SeccompArchName,
  SeccompArg,
  SeccompFilterCondition,
  SeccompProfile,
} from './seccomp-profile.js';
import { KERNEL, SYSCALL_NUMBERS, type SyscallArch } from './syscall-table.js';

/** The hosts this compiler makes filters for: Node's `process.arch` → Go's GOARCH and libseccomp's name. */
const HOSTS: Partial<Record<string, { goArch: string; arch: SeccompArchName }>> = {
  x64: { goArch: 'amd64', arch: 'SCMP_ARCH_X86_64' },
  arm64: { goArch: 'arm64', arch: 'SCMP_ARCH_AARCH64' },
};

/** libseccomp architectures that have a syscall table here. x32 and 32-bit arm have none: they are killed. */
const TABLES: Partial<Record<SeccompArchName, SyscallArch>> = {
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_AARCH64: 'aarch64',
};

/** True when a seccomp filter can be made for this host (`process.arch`). */
export function seccompSupported(hostArch: string): boolean {
  return HOSTS[hostArch] !== undefined;
}

/** What the filter applies to. */
export interface SeccompTarget {
  /** `process.arch` of the host. */
  hostArch: string;
  /** The container's capabilities (its bounding set), e.g. `CAP_SYS_ADMIN`. */
  capabilities: readonly string[];
  /** `uname -r`, for `minKernel`. */
  kernelRelease: string;
}

/** One rule: its conditions all hold (AND), then the action. */
export interface SeccompRule {
  action: number;
  args: SeccompArg[];
}

export interface SeccompArchRules {
  arch: SyscallArch;
  /** The rules of each syscall number, in the profile's order. */
  rules: Map<number, SeccompRule[]>;
  /**
   * runc's -ENOSYS stub: a syscall above the highest number the profile names is newer than the
   * profile and gets ENOSYS (so that libcs fall back, e.g. from clone3), not the default action.
   * Undefined when the default action allows, or is ENOSYS already.
   */
  enosysAbove?: number;
}

export interface SeccompRuleSet {
  /** SECCOMP_RET_* value for a syscall that no rule matches. */
  defaultAction: number;
  /** The architectures the filter has sections for; any other one is killed. */
  arches: SeccompArchRules[];
  /** SECCOMP_FILTER_FLAG_* for seccomp(2). */
  flags: number;
}

/** The SECCOMP_RET_* value of an action; an ERRNO or TRACE without errnoRet returns EPERM, like runc. */
export function seccompAction(action: SeccompActionName, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return KERNEL.SECCOMP_RET_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return KERNEL.SECCOMP_RET_KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return KERNEL.SECCOMP_RET_TRAP;
    case 'SCMP_ACT_ERRNO':
      return (KERNEL.SECCOMP_RET_ERRNO | ((errnoRet ?? KERNEL.EPERM) & KERNEL.SECCOMP_RET_DATA)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (KERNEL.SECCOMP_RET_TRACE | ((errnoRet ?? KERNEL.EPERM) & KERNEL.SECCOMP_RET_DATA)) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return KERNEL.SECCOMP_RET_ALLOW;
    case 'SCMP_ACT_LOG':
      return KERNEL.SECCOMP_RET_LOG;
  }
}

function kernelVersion(release: string): { major: number; minor: number } {
  const match = /^(\d+)\.(\d+)/.exec(release);
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : { major: 0, minor: 0 };
}

/** Docker's includes/excludes test (moby profiles/seccomp: setupSeccomp). */
function applies(
  includes: SeccompFilterCondition,
  excludes: SeccompFilterCondition,
  goArch: string,
  caps: ReadonlySet<string>,
  kernel: { major: number; minor: number },
): boolean {
  const atLeast = (min: { major: number; minor: number }) =>
    kernel.major > min.major || (kernel.major === min.major && kernel.minor >= min.minor);
  if (excludes.arches.includes(goArch)) return false;
  if (includes.arches.length > 0 && !includes.arches.includes(goArch)) return false;
  if (excludes.caps.some((cap) => caps.has(cap))) return false;
  if (!includes.caps.every((cap) => caps.has(cap))) return false;
  if (excludes.minKernel && atLeast(excludes.minKernel)) return false;
  if (includes.minKernel && !atLeast(includes.minKernel)) return false;
  return true;
}

/** The profile's rules for one container on this host. Throws invalid-argument on a host without tables. */
export function selectSeccompRules(profile: SeccompProfile, target: SeccompTarget): SeccompRuleSet {
  const host = HOSTS[target.hostArch];
  if (!host) throw invalidArgument(`seccomp profiles are not supported on ${target.hostArch} hosts yet`);
  const caps = new Set(target.capabilities);
  const kernel = kernelVersion(target.kernelRelease);

  // libseccomp always filters the native architecture; archMap adds the host's sub-architectures.
  const named =
    profile.architectures.length > 0
      ? profile.architectures
      : profile.archMap
          .filter((entry) => entry.architecture === host.arch)
          .flatMap((entry) => [entry.architecture, ...entry.subArchitectures]);
  const arches = [...new Set([host.arch, ...named])]
    .map((name) => TABLES[name])
    .filter((arch): arch is SyscallArch => arch !== undefined);

  const defaultAction = seccompAction(profile.defaultAction, profile.defaultErrnoRet);
  const calls = profile.syscalls.filter((call) => applies(call.includes, call.excludes, host.goArch, caps, kernel));
  // runc skips the stub when the default already allows or already says ENOSYS.
  const stub =
    profile.defaultAction !== 'SCMP_ACT_ALLOW' &&
    profile.defaultAction !== 'SCMP_ACT_LOG' &&
    !(profile.defaultAction === 'SCMP_ACT_ERRNO' && profile.defaultErrnoRet === KERNEL.ENOSYS);

  return {
    defaultAction,
    flags: profile.flags.reduce((flags, flag) => flags | KERNEL[flag], 0),
    arches: arches.map((arch) => {
      const numbers = SYSCALL_NUMBERS[arch];
      const rules = new Map<number, SeccompRule[]>();
      let highest = -1;
      for (const call of calls) {
        const action = seccompAction(call.action, call.errnoRet);
        // runc: if an argument is tested more than once, each test becomes a rule of its own (OR).
        const repeated = new Set(call.args.map((arg) => arg.index)).size < call.args.length;
        const alternatives = repeated ? call.args.map((arg) => [arg]) : [call.args];
        for (const name of call.names) {
          const nr = numbers[name];
          if (nr === undefined) continue;
          highest = Math.max(highest, nr);
          // libseccomp refuses a rule whose action is the default one; runc drops it.
          if (action === defaultAction) continue;
          const list = rules.get(nr) ?? [];
          for (const args of alternatives) list.push({ action, args });
          rules.set(nr, list);
        }
      }
      return { arch, rules, ...(stub && highest >= 0 ? { enosysAbove: highest } : {}) };
    }),
  };
}
