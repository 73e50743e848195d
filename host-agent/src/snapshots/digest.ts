/**
 * Content digests (`sha256:<64 hex>`), the names of everything the storage keeps: blobs, image
 * ids, layer diff ids and chain ids. Only sha256 is accepted: it is what Docker and every
 * registry use, and a second algorithm would double every code path for no user.
 */
import { createHash } from 'node:crypto';

import { invalidArgument } from '../engine-error.js';

export type Digest = `sha256:${string}`;

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST.test(value);
}

/** Checks a digest read from outside (a manifest, an archive, a request). */
export function parseDigest(value: unknown, what = 'digest'): Digest {
  if (isDigest(value)) return value;
  if (typeof value === 'string' && ANY_DIGEST.test(value) && !value.startsWith('sha256:')) {
    throw invalidArgument(`unsupported digest algorithm in ${what} ${value}: only sha256 is supported`);
  }
  throw invalidArgument(`invalid ${what}: ${JSON.stringify(value)}`);
}

export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function digestFromHex(hex: string): Digest {
  return parseDigest(`sha256:${hex}`);
}

export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * The chain id of each layer of a stack, bottom first: the first is its diff id, each next one
 * `sha256(parentChainId + " " + diffId)` (the OCI image spec). A layer is unpacked once per
 * chain id, because its meaning depends on everything below it.
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const result: Digest[] = [];
  for (const diffId of diffIds) {
    const parent = result.at(-1);
    result.push(parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`));
  }
  return result;
}

export function chainId(parent: Digest | undefined, diffId: Digest): Digest {
  return parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`);
}

/** A short id as the docker CLI prints it: 12 hex digits. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
