import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../engine-error.js';

/**
 * The label Docker ≥23 puts on a volume created without a name (an image's VOLUME, `-v /path`,
 * a nameless `docker volume create`). `docker volume prune` removes only these unless `all=true`.
 */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

// moby's RestrictedNamePattern. The name becomes a directory under <root>/volumes, so it can hold
// no separator and cannot be `.` or `..`; entries the store itself makes there start with a dot.
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
// NAME_MAX of the directory it becomes; past it mkdir(2) would answer ENAMETOOLONG.
const MAX_VOLUME_NAME_LENGTH = 255;

export function isValidVolumeName(name: string): boolean {
  return name.length <= MAX_VOLUME_NAME_LENGTH && VOLUME_NAME.test(name);
}

export function validateVolumeName(name: string): void {
  if (name.length > MAX_VOLUME_NAME_LENGTH) {
    throw invalidArgument(
      `invalid volume name ${name.slice(0, 32)}…: longer than ${MAX_VOLUME_NAME_LENGTH} characters`,
    );
  }
  if (!VOLUME_NAME.test(name)) {
    throw invalidArgument(
      `invalid volume name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters;` +
        ' to mount a host directory, use an absolute path',
    );
  }
}

/** 64 hex digits, like a Docker anonymous volume's name. */
export function anonymousVolumeName(): string {
  return randomBytes(32).toString('hex');
}
