/**
 * Docker's default seccomp profile, shipped with the agent as host-agent/seccomp/default.json
 * (a copy of moby's profiles/seccomp/default.json, Apache-2.0; see the README there). Read and
 * checked once, on first use.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseSeccompProfile, type SeccompProfile } from './seccomp-profile.js';

/** Same place from src/seccomp/ and from dist/seccomp/. */
export const DEFAULT_SECCOMP_PROFILE_PATH = fileURLToPath(new URL('../../seccomp/default.json', import.meta.url));

let cached: SeccompProfile | undefined;

export function defaultSeccompProfile(): SeccompProfile {
  if (!cached) {
    const profile = parseSeccompProfile(readFileSync(DEFAULT_SECCOMP_PROFILE_PATH, 'utf8'));
    if (!profile) throw new Error(`${DEFAULT_SECCOMP_PROFILE_PATH} has no default action and no syscalls`);
    cached = profile;
  }
  return cached;
}
