import { invalidArgument } from '../engine-error.js';

/**
 * The Engine API version whose behaviour Skiff implements; `/_ping` and `/version` announce it,
 * and an unversioned path is served as this version. The 28.x CLI downgrades to it by itself.
 */
export const API_VERSION = '1.41';

/** The oldest version a client may ask for; older request shapes are not accepted. */
export const MIN_API_VERSION = '1.24';

/** Compares dotted versions number by number, as dockerd does: `1.5` < `1.24` < `1.41`. */
export function compareApiVersions(a: string, b: string): number {
  const left = a.split('.');
  const right = b.split('.');
  for (let index = 0; index < Math.max(left.length, right.length); index += 1) {
    const difference = Number(left[index] ?? 0) - Number(right[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

/**
 * The version a request is served at: the one in its `/v1.NN` prefix, or API_VERSION for an
 * unversioned path. Throws invalid-argument (400) outside [MIN_API_VERSION, API_VERSION].
 */
export function negotiateApiVersion(requested: string | undefined): string {
  if (requested === undefined) return API_VERSION;
  if (compareApiVersions(requested, API_VERSION) > 0) {
    throw invalidArgument(
      `client version ${requested} is too new: this engine supports API versions up to ${API_VERSION}`,
    );
  }
  if (compareApiVersions(requested, MIN_API_VERSION) < 0) {
    throw invalidArgument(
      `client version ${requested} is too old: this engine supports API versions from ${MIN_API_VERSION}, please upgrade your client`,
    );
  }
  return requested;
}
