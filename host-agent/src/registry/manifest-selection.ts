/**
 * What a registry's manifest is, and which one of an index a pull takes. Accepted: Docker image
 * manifest v2 schema 2, OCI image manifest, Docker manifest list and OCI image index. From an
 * index, the entry for the wanted platform; attestation entries (BuildKit's provenance and SBOM,
 * `vnd.docker.reference.type=attestation-manifest`, platform unknown/unknown) are never taken.
 */
import { invalidArgument, notFound } from '../engine-error.js';
import { MEDIA_TYPE, type Descriptor } from '../images/image-config.js';
import type { Platform } from '../images/image-load-plan.js';
import type { Compression } from '../snapshots/compression.js';

const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** What a pull asks registries for, best first. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPE.ociIndex,
  MEDIA_TYPE.dockerManifestList,
  MEDIA_TYPE.ociManifest,
  MEDIA_TYPE.dockerManifest,
];

export type ManifestKind = 'index' | 'manifest';

/** `application/json; charset=utf-8` → `application/json`. */
export function bareMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * The kind of a manifest document. The `mediaType` inside the document wins over the
 * Content-Type of the answer (some registries answer `application/json`); without either, the
 * document's shape decides, as in containerd.
 */
export function classifyManifest(
  document: unknown,
  contentType: string | undefined,
  what: string,
): { kind: ManifestKind; mediaType: string } {
  const body = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  const declared = typeof body.mediaType === 'string' ? body.mediaType : '';
  const answered = bareMediaType(contentType);
  let mediaType = declared !== '' ? declared : answered;
  if (mediaType === '' || mediaType === 'application/json' || mediaType === 'application/octet-stream') {
    if (Array.isArray(body.manifests)) mediaType = MEDIA_TYPE.ociIndex;
    else if (body.config !== undefined && Array.isArray(body.layers)) mediaType = MEDIA_TYPE.ociManifest;
  }
  if (mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.dockerManifestList)
    return { kind: 'index', mediaType };
  if (mediaType === MEDIA_TYPE.ociManifest || mediaType === MEDIA_TYPE.dockerManifest) {
    return { kind: 'manifest', mediaType };
  }
  if (SCHEMA1_TYPES.has(mediaType) || body.schemaVersion === 1) {
    throw invalidArgument(
      `${what} is a Docker image manifest v2 schema 1, which is deprecated and not supported: push the image again with a current client`,
    );
  }
  throw invalidArgument(`${what} has an unsupported manifest media type ${mediaType || '(none)'}`);
}

/** The platform as `os/arch[/variant]`. */
export function formatPlatform(platform: { os: string; architecture: string; variant?: string }): string {
  return [platform.os, platform.architecture, platform.variant]
    .filter((part) => part !== undefined && part !== '')
    .join('/');
}

function isAttestation(entry: Descriptor): boolean {
  const reference = entry.annotations?.['vnd.docker.reference.type'];
  return (
    reference === 'attestation-manifest' ||
    entry.platform?.os === 'unknown' ||
    entry.platform?.architecture === 'unknown'
  );
}

/** The default variant of an architecture, when an entry or the host names none. */
function normalVariant(architecture: string, variant: string | undefined): string {
  if (variant !== undefined && variant !== '') return variant;
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return '';
}

/**
 * The index entry for `platform`: same os and architecture, the same variant preferred (arm64
 * means v8 when unsaid), for 32-bit arm an older variant the host can run as a last resort.
 * Attestations and unknown platforms are never chosen.
 */
export function selectManifest(entries: readonly Descriptor[], platform: Platform): Descriptor | undefined {
  const wantedVariant = normalVariant(platform.architecture, platform.variant);
  const candidates = entries.filter(
    (entry) =>
      !isAttestation(entry) &&
      entry.platform !== undefined &&
      entry.platform.os === platform.os &&
      entry.platform.architecture === platform.architecture,
  );
  const exact = candidates.find(
    (entry) => normalVariant(entry.platform!.architecture, entry.platform!.variant) === wantedVariant,
  );
  if (exact !== undefined) return exact;
  if (platform.architecture === 'arm') {
    const wanted = Number(wantedVariant.slice(1));
    return candidates
      .filter((entry) => Number(normalVariant('arm', entry.platform!.variant).slice(1)) <= wanted)
      .sort((a, b) => (b.platform!.variant ?? '').localeCompare(a.platform!.variant ?? ''))[0];
  }
  return undefined;
}

/** Like selectManifest, but a clear not-found error listing what the index has. */
export function requireManifest(entries: readonly Descriptor[], platform: Platform, what: string): Descriptor {
  const chosen = selectManifest(entries, platform);
  if (chosen !== undefined) return chosen;
  const offered = entries
    .filter((entry) => !isAttestation(entry) && entry.platform !== undefined)
    .map((entry) => formatPlatform(entry.platform!));
  throw notFound(
    `no matching manifest for ${formatPlatform(platform)} in the manifest list entries of ${what}` +
      (offered.length > 0 ? ` (it has ${[...new Set(offered)].join(', ')})` : ''),
  );
}

/** Where an index entry points, checked before it is fetched. */
export function checkIndexEntry(entry: Descriptor, what: string): void {
  if (
    entry.mediaType !== MEDIA_TYPE.ociManifest &&
    entry.mediaType !== MEDIA_TYPE.dockerManifest &&
    entry.mediaType !== MEDIA_TYPE.ociIndex &&
    entry.mediaType !== MEDIA_TYPE.dockerManifestList
  ) {
    throw invalidArgument(`${what} points at manifest ${entry.digest} of an unsupported media type ${entry.mediaType}`);
  }
}

const LAYER_TYPES: ReadonlyMap<string, Compression> = new Map([
  [MEDIA_TYPE.dockerLayerGzip, 'gzip'],
  [MEDIA_TYPE.dockerLayer, 'none'],
  [MEDIA_TYPE.ociLayer, 'none'],
  [MEDIA_TYPE.ociLayerGzip, 'gzip'],
  [MEDIA_TYPE.ociLayerZstd, 'zstd'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
]);

/** The compression a layer's media type announces (the bytes decide in the end); refuses non-layers. */
export function layerCompression(layer: Descriptor, what: string): Compression {
  const compression = LAYER_TYPES.get(layer.mediaType);
  if (compression !== undefined) return compression;
  if (layer.mediaType.includes('foreign')) {
    throw invalidArgument(
      `${what} is a foreign layer (${layer.mediaType}), only found outside the registry: not supported`,
    );
  }
  throw invalidArgument(`${what} has an unsupported media type ${layer.mediaType}`);
}

/** Refuses a manifest whose config is not an image config (a Helm chart, another artifact). */
export function checkConfigMediaType(config: Descriptor, what: string): void {
  if (config.mediaType !== MEDIA_TYPE.dockerConfig && config.mediaType !== MEDIA_TYPE.ociConfig) {
    throw invalidArgument(
      `${what} is not a container image: its config has the unsupported media type ${config.mediaType}`,
    );
  }
}
