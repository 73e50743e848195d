/**
 * The seccomp filter of a container (and of every process exec'd into it), by Docker's rules:
 * `--privileged` and `seccomp=unconfined` run without one, `seccomp=<profile JSON>` uses that
 * profile, and anything else Docker's default profile.
 */
import { compileSeccompFilter, type SockFilter } from './seccomp-bpf.js';
import { defaultSeccompProfile } from './default-seccomp-profile.js';
import type { SeccompProfile } from './seccomp-profile.js';
import { seccompSupported, selectSeccompRules } from './seccomp-rules.js';

/**
 * `--security-opt seccomp=…`: `builtin` (also when not given), `unconfined`, or the JSON of a
 * profile (the docker CLI sends a file's content); a profile of null names nothing to filter.
 */
export type SeccompChoice =
  { kind: 'builtin' } | { kind: 'unconfined' } | { kind: 'profile'; profile: SeccompProfile | null };

export interface SeccompFilter {
  instructions: SockFilter[];
  /** SECCOMP_FILTER_FLAG_* */
  flags: number;
}

export interface SeccompPlanInput {
  choice: SeccompChoice;
  privileged: boolean;
  /** The container's capabilities (its bounding set): the profile's `caps` conditions test them. */
  capabilities: readonly string[];
  /** `process.arch` of the host. */
  hostArch: string;
  /** `uname -r` of the host. */
  kernelRelease: string;
}

/** The default profile's filters by host and capabilities: nearly every container has one of a few. */
const builtinFilters = new Map<string, SeccompFilter>();

/** The filter to load, or undefined for none. Throws invalid-argument for a profile this host cannot apply. */
export function planSeccomp(input: SeccompPlanInput): SeccompFilter | undefined {
  const { choice } = input;
  if (input.privileged || choice.kind === 'unconfined') return undefined;
  if (choice.kind === 'profile') return choice.profile ? compile(choice.profile, input) : undefined;
  // Like a dockerd built without seccomp: the default is skipped where it cannot be compiled,
  // while a profile the user asked for is an error (selectSeccompRules names the host).
  if (!seccompSupported(input.hostArch)) return undefined;
  const key = [input.hostArch, input.kernelRelease, ...[...input.capabilities].sort()].join(' ');
  let filter = builtinFilters.get(key);
  if (!filter) {
    if (builtinFilters.size >= 64) builtinFilters.clear();
    filter = compile(defaultSeccompProfile(), input);
    builtinFilters.set(key, filter);
  }
  return filter;
}

function compile(profile: SeccompProfile, input: SeccompPlanInput): SeccompFilter {
  const rules = selectSeccompRules(profile, {
    hostArch: input.hostArch,
    capabilities: input.capabilities,
    kernelRelease: input.kernelRelease,
  });
  return { instructions: compileSeccompFilter(rules), flags: rules.flags };
}
