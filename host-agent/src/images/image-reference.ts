/**
 * Image references as Docker reads them: `busybox`, `busybox:1.36`, `library/busybox`,
 * `docker.io/library/busybox:latest`, `127.0.0.1:5000/busybox:local`, `name@sha256:…`.
 * Parsed into one normal form (registry, repository path, tag, digest) so that every spelling
 * of an image finds the same entry, and printed back in Docker's short ("familiar") form.
 */
import { invalidArgument } from '../engine-error.js';
import { parseDigest, type Digest } from '../snapshots/digest.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPOSITORY_PREFIX = 'library/';
const MAX_NAME_LENGTH = 255;

const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const PATH = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const FULL_HEX_ID = /^[a-f0-9]{64}$/;

export interface ImageReference {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: Digest;
}

function invalidReference(detail?: string): Error {
  return invalidArgument(detail === undefined ? 'invalid reference format' : `invalid reference format: ${detail}`);
}

/**
 * Parses and normalises a reference; adds no default tag (see `withDefaultTag`). Invalid input
 * is an `invalid-argument` error whose message is the one dockerd gives.
 */
export function parseReference(input: string): ImageReference {
  if (input === '') throw invalidReference('repository name must have at least one component');
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    try {
      digest = parseDigest(rest.slice(at + 1), 'digest');
    } catch {
      throw invalidReference();
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    if (!TAG.test(tag)) throw invalidReference();
    rest = rest.slice(0, colon);
  }
  if (rest.length > MAX_NAME_LENGTH)
    throw invalidReference(`repository name must not be more than ${MAX_NAME_LENGTH} characters`);
  if (FULL_HEX_ID.test(rest)) {
    throw invalidReference(`invalid repository name (${rest}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, path } = splitDomain(rest);
  if (!DOMAIN.test(domain)) throw invalidReference();
  if (!PATH.test(path)) {
    if (PATH.test(path.toLowerCase())) throw invalidReference(`repository name (${path}) must be lowercase`);
    throw invalidReference();
  }
  return { domain, path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** Docker's rule: the first component is a registry only if it looks like a host. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  let domain: string;
  let path: string;
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = name;
  } else {
    domain = first;
    path = name.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `${OFFICIAL_REPOSITORY_PREFIX}${path}`;
  return { domain, path };
}

/** `busybox` means `busybox:latest`; a reference by digest keeps no implied tag. */
export function withDefaultTag(reference: ImageReference): ImageReference {
  if (reference.tag !== undefined || reference.digest !== undefined) return reference;
  return { ...reference, tag: DEFAULT_TAG };
}

/** `docker.io/library/busybox` */
export function referenceName(reference: ImageReference): string {
  return `${reference.domain}/${reference.path}`;
}

/** `docker.io/library/busybox:latest`, `docker.io/library/busybox@sha256:…`: the key of the tag index. */
export function formatReference(reference: ImageReference): string {
  return `${referenceName(reference)}${reference.tag === undefined ? '' : `:${reference.tag}`}${
    reference.digest === undefined ? '' : `@${reference.digest}`
  }`;
}

/** `busybox`, `user/app`, `127.0.0.1:5000/busybox`: the name as the docker CLI prints it. */
export function familiarName(reference: ImageReference): string {
  if (reference.domain !== DEFAULT_DOMAIN) return referenceName(reference);
  return reference.path.startsWith(OFFICIAL_REPOSITORY_PREFIX) && reference.path.split('/').length === 2
    ? reference.path.slice(OFFICIAL_REPOSITORY_PREFIX.length)
    : reference.path;
}

/** `busybox:latest`, `busybox@sha256:…`: what RepoTags, RepoDigests and `Loaded image:` show. */
export function familiarString(reference: ImageReference): string {
  return `${familiarName(reference)}${reference.tag === undefined ? '' : `:${reference.tag}`}${
    reference.digest === undefined ? '' : `@${reference.digest}`
  }`;
}

/** Tries `parseReference`; undefined for input that is not a reference. */
export function tryParseReference(input: string): ImageReference | undefined {
  try {
    return parseReference(input);
  } catch {
    return undefined;
  }
}
