/**
 * The JSON documents of an image: its config (OCI image config, which Docker's is a superset
 * of), manifests and indexes. Parsed from untrusted input, so each is checked for the fields
 * the engine relies on; unknown fields are kept as they are.
 */
import { EngineError, invalidArgument } from '../engine-error.js';
import { parseDigest, type Digest } from '../snapshots/digest.js';

export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` member: defaults for containers made from the image. */
export interface ContainerDefaults {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  OnBuild?: string[] | null;
  Shell?: string[];
  [key: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  config?: ContainerDefaults;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  /** Docker extras. */
  comment?: string;
  docker_version?: string;
  [key: string]: unknown;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string; 'os.version'?: string };
  [key: string]: unknown;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

export function parseJson(bytes: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8')) as unknown;
  } catch (error) {
    throw new EngineError('invalid-argument', `${what} is not valid JSON`, { cause: error });
  }
}

export function parseImageConfig(value: unknown, what = 'image config'): ImageConfig {
  if (!isObject(value)) throw invalidArgument(`${what} is not a JSON object`);
  const rootfs = value.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw invalidArgument(`${what} has no rootfs of type "layers" with diff_ids`);
  }
  const diffIds = rootfs.diff_ids.map((id) => parseDigest(id, `diff id in ${what}`));
  if (typeof value.architecture !== 'string' || typeof value.os !== 'string') {
    throw invalidArgument(`${what} does not name its architecture and os`);
  }
  if (value.config !== undefined && value.config !== null && !isObject(value.config)) {
    throw invalidArgument(`${what} has a config that is not an object`);
  }
  const config = isObject(value.config) ? value.config : undefined;
  for (const key of ['Env', 'Cmd', 'Entrypoint', 'OnBuild', 'Shell'] as const) {
    const field = config?.[key];
    if (field !== undefined && field !== null && !isStringArray(field)) {
      throw invalidArgument(`${what} has a config.${key} that is not a list of strings`);
    }
  }
  if (value.history !== undefined && value.history !== null && !Array.isArray(value.history)) {
    throw invalidArgument(`${what} has a history that is not a list`);
  }
  return { ...value, rootfs: { type: 'layers', diff_ids: diffIds } } as ImageConfig;
}

export function parseDescriptor(value: unknown, what: string): Descriptor {
  if (!isObject(value)) throw invalidArgument(`${what} is not a descriptor object`);
  if (typeof value.mediaType !== 'string') throw invalidArgument(`${what} has no mediaType`);
  const digest = parseDigest(value.digest, `digest in ${what}`);
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw invalidArgument(`${what} has no valid size`);
  }
  return { ...value, mediaType: value.mediaType, digest, size: value.size };
}

export function parseManifest(value: unknown, what: string): ImageManifest {
  if (!isObject(value) || value.schemaVersion !== 2) throw invalidArgument(`${what} is not a schema 2 image manifest`);
  if (!Array.isArray(value.layers)) throw invalidArgument(`${what} has no layers`);
  return {
    ...value,
    schemaVersion: 2,
    config: parseDescriptor(value.config, `config of ${what}`),
    layers: value.layers.map((layer, index) => parseDescriptor(layer, `layer ${index + 1} of ${what}`)),
  };
}

export function parseIndex(value: unknown, what: string): ImageIndex {
  if (!isObject(value) || value.schemaVersion !== 2 || !Array.isArray(value.manifests)) {
    throw invalidArgument(`${what} is not a schema 2 image index`);
  }
  return {
    ...value,
    schemaVersion: 2,
    manifests: value.manifests.map((manifest, index) => parseDescriptor(manifest, `manifest ${index + 1} of ${what}`)),
  };
}

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.dockerManifestList;
}

export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE.ociManifest || mediaType === MEDIA_TYPE.dockerManifest;
}

/** The platform the agent runs on, in OCI terms. */
export function hostPlatform(): { architecture: string; os: string; variant?: string } {
  const architectures: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  const architecture = architectures[process.arch] ?? process.arch;
  return { architecture, os: 'linux', ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}
