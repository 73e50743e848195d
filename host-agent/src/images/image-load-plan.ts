/**
 * Decides what an image archive holds, after its files are in the content store: for each
 * image, its config blob, its layer blobs in order, its names and the manifests that describe
 * it. Every digest the archive states is checked against what was actually stored. Three
 * layouts are understood:
 *
 * - `docker save` (Docker ≥ 1.10): manifest.json lists configs, tags and layer paths;
 * - OCI image layout: oci-layout, index.json, blobs/sha256/… with manifests and indexes;
 * - legacy `docker save` (before 1.10): `repositories` plus `<id>/json` and `<id>/layer.tar`,
 *   from which an image config is rebuilt as dockerd does.
 *
 * A docker-save archive from Docker 25+ holds both manifest.json and an OCI index; manifest.json
 * wins, as in dockerd.
 */
import { createHash } from 'node:crypto';

import { invalidArgument } from '../engine-error.js';
import type { ContentStore } from '../snapshots/content-store.js';
import { digestHex, sha256Digest, type Digest } from '../snapshots/digest.js';
import { decompress } from '../snapshots/compression.js';
import type { ImageArchive } from './image-archive.js';
import {
  hostPlatform,
  isIndexMediaType,
  isManifestMediaType,
  parseImageConfig,
  parseIndex,
  parseJson,
  parseManifest,
  type Descriptor,
  type ImageConfig,
} from './image-config.js';
import { familiarString, parseReference, withDefaultTag, type ImageReference } from './image-reference.js';

export interface PlannedImage {
  /** The config blob; the image id. */
  config: Digest;
  parsedConfig: ImageConfig;
  /** Layer blobs, bottom first, each to match the config's diff id at the same index. */
  layers: Digest[];
  tags: ImageReference[];
  manifests: Digest[];
  /** Names the image in errors. */
  what: string;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export type ArchiveFormat = 'docker-save' | 'oci-layout' | 'legacy-docker-save';

export interface LoadPlan {
  format: ArchiveFormat;
  images: PlannedImage[];
}

const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
const OCI_REF_NAME = 'org.opencontainers.image.ref.name';
const DOCKER_REFERENCE_TYPE = 'vnd.docker.reference.type';

export async function planLoad(
  archive: ImageArchive,
  content: ContentStore,
  platform: Platform = hostPlatform(),
): Promise<LoadPlan> {
  if (archive.has('manifest.json')) return { format: 'docker-save', images: await planDockerSave(archive, content) };
  if (archive.has('index.json'))
    return { format: 'oci-layout', images: await planOciLayout(archive, content, platform) };
  if (archive.has('repositories')) return { format: 'legacy-docker-save', images: await planLegacy(archive, content) };
  throw invalidArgument('the archive is not an image archive: it has no manifest.json, index.json or repositories');
}

async function readJsonFile(
  archive: ImageArchive,
  content: ContentStore,
  name: string,
  what: string,
): Promise<unknown> {
  const file = archive.file(name);
  if (file === undefined) throw invalidArgument(`the archive has no ${name} (${what})`);
  return parseJson(await content.read(file.digest), `${name} in the archive`);
}

/**
 * A path like `blobs/sha256/<hex>` or `<hex>.json` names its digest: check it. (The `<hex>` of
 * a legacy `<hex>/layer.tar` is a v1 layer id, not a digest.)
 */
function checkNamedDigest(name: string, actual: Digest): void {
  const match = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /^([a-f0-9]{64})\.json$/.exec(name);
  if (match !== null && match[1] !== digestHex(actual)) {
    throw invalidArgument(`digest mismatch for ${name} in the archive: its content is ${actual}`);
  }
}

function parseTags(values: unknown, what: string): ImageReference[] {
  if (values === null || values === undefined) return [];
  if (!Array.isArray(values)) throw invalidArgument(`RepoTags of ${what} is not a list`);
  return values.map((value) => {
    if (typeof value !== 'string') throw invalidArgument(`RepoTags of ${what} holds a non-string`);
    const reference = withDefaultTag(parseReference(value));
    if (reference.digest !== undefined) throw invalidArgument(`RepoTags of ${what} holds a digest reference: ${value}`);
    return reference;
  });
}

async function planDockerSave(archive: ImageArchive, content: ContentStore): Promise<PlannedImage[]> {
  const manifest = await readJsonFile(archive, content, 'manifest.json', 'the image list');
  if (!Array.isArray(manifest)) throw invalidArgument('manifest.json in the archive is not a list');
  const images: PlannedImage[] = [];
  for (const [index, item] of manifest.entries()) {
    const entry = item as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    const what = `image ${index + 1} of manifest.json`;
    if (typeof entry.Config !== 'string') throw invalidArgument(`${what} has no Config`);
    if (!Array.isArray(entry.Layers) || !entry.Layers.every((layer) => typeof layer === 'string')) {
      throw invalidArgument(`${what} has no list of Layers`);
    }
    const tags = parseTags(entry.RepoTags, what);
    const named = tags[0] === undefined ? what : `image ${familiarString(tags[0])}`;
    const configFile = archive.file(entry.Config);
    if (configFile === undefined) throw invalidArgument(`the archive has no ${entry.Config} (config of ${named})`);
    checkNamedDigest(entry.Config, configFile.digest);
    const parsedConfig = parseImageConfig(
      parseJson(await content.read(configFile.digest), `config of ${named}`),
      `config of ${named}`,
    );
    const layerNames = entry.Layers;
    if (layerNames.length !== parsedConfig.rootfs.diff_ids.length) {
      throw invalidArgument(
        `${named} lists ${layerNames.length} layers but its config has ${parsedConfig.rootfs.diff_ids.length} diff ids`,
      );
    }
    const layers = layerNames.map((name, layerIndex) => {
      const file = archive.file(name);
      if (file === undefined) throw invalidArgument(`the archive has no ${name} (layer ${layerIndex + 1} of ${named})`);
      checkNamedDigest(name, file.digest);
      return file.digest;
    });
    images.push({ config: configFile.digest, parsedConfig, layers, tags, manifests: [], what: named });
  }
  return images;
}

async function planOciLayout(
  archive: ImageArchive,
  content: ContentStore,
  platform: Platform,
): Promise<PlannedImage[]> {
  const layout = (await readJsonFile(archive, content, 'oci-layout', 'the OCI layout marker').catch(
    () => undefined,
  )) as { imageLayoutVersion?: unknown } | undefined;
  if (layout === undefined || typeof layout.imageLayoutVersion !== 'string') {
    throw invalidArgument('the archive has an index.json but no valid oci-layout file');
  }
  const index = parseIndex(await readJsonFile(archive, content, 'index.json', 'the image index'), 'index.json');
  const images: PlannedImage[] = [];
  const byConfig = new Map<Digest, PlannedImage>();
  for (const descriptor of index.manifests) {
    const tags = namesOf(descriptor);
    const what = tags[0] === undefined ? `image ${descriptor.digest}` : `image ${familiarString(tags[0])}`;
    const image = await planOciDescriptor(archive, content, descriptor, platform, what, 0);
    const same = byConfig.get(image.config);
    if (same !== undefined) {
      // One image under several names: one entry per name in index.json.
      same.tags.push(
        ...tags.filter((tag) => !same.tags.some((known) => familiarString(known) === familiarString(tag))),
      );
      continue;
    }
    image.tags.push(...tags);
    byConfig.set(image.config, image);
    images.push(image);
  }
  return images;
}

/** The names an index entry gives its image. */
function namesOf(descriptor: Descriptor): ImageReference[] {
  const annotations = descriptor.annotations ?? {};
  const full = annotations[CONTAINERD_IMAGE_NAME];
  if (full !== undefined) return [withDefaultTag(parseReference(full))];
  // The OCI annotation is usually just a tag ("latest"); only a full name can name an image.
  const refName = annotations[OCI_REF_NAME];
  if (refName !== undefined && /[/:]/.test(refName)) {
    const reference = withDefaultTag(parseReference(refName));
    if (reference.digest === undefined) return [reference];
  }
  return [];
}

function blobOf(archive: ImageArchive, descriptor: Descriptor, what: string): Digest {
  const name = `blobs/sha256/${digestHex(descriptor.digest)}`;
  const file = archive.file(name);
  if (file === undefined) throw invalidArgument(`the archive has no ${name} (${what})`);
  if (file.digest !== descriptor.digest) {
    throw invalidArgument(`digest mismatch for ${what}: expected ${descriptor.digest}, got ${file.digest}`);
  }
  if (file.size !== descriptor.size) {
    throw invalidArgument(
      `size mismatch for ${what} ${descriptor.digest}: expected ${descriptor.size} bytes, got ${file.size}`,
    );
  }
  return file.digest;
}

async function planOciDescriptor(
  archive: ImageArchive,
  content: ContentStore,
  descriptor: Descriptor,
  platform: Platform,
  what: string,
  depth: number,
): Promise<PlannedImage> {
  if (depth > 4) throw invalidArgument(`${what}: image indexes are nested too deeply`);
  const blob = blobOf(archive, descriptor, `the manifest of ${what}`);
  const document = parseJson(await content.read(blob), `manifest ${descriptor.digest}`) as { mediaType?: unknown };
  const mediaType = typeof document.mediaType === 'string' ? document.mediaType : descriptor.mediaType;
  if (isIndexMediaType(mediaType)) {
    const index = parseIndex(document, `index ${descriptor.digest} of ${what}`);
    const chosen = choosePlatform(index.manifests, platform);
    if (chosen === undefined) {
      throw invalidArgument(`${what} has no manifest for ${platform.os}/${platform.architecture}`);
    }
    const image = await planOciDescriptor(archive, content, chosen, platform, what, depth + 1);
    image.manifests.unshift(blob);
    return image;
  }
  if (!isManifestMediaType(mediaType)) throw invalidArgument(`${what} has an unsupported media type ${mediaType}`);
  const manifest = parseManifest(document, `manifest ${descriptor.digest} of ${what}`);
  const config = blobOf(archive, manifest.config, `the config of ${what}`);
  const parsedConfig = parseImageConfig(
    parseJson(await content.read(config), `config of ${what}`),
    `config of ${what}`,
  );
  if (manifest.layers.length !== parsedConfig.rootfs.diff_ids.length) {
    throw invalidArgument(
      `${what} has ${manifest.layers.length} layers but its config has ${parsedConfig.rootfs.diff_ids.length} diff ids`,
    );
  }
  const layers: Digest[] = [];
  for (const [index, layer] of manifest.layers.entries()) {
    layers.push(blobOf(archive, layer, `layer ${index + 1} of ${what}`));
  }
  return { config, parsedConfig, layers, tags: [], manifests: [blob], what };
}

/** The manifest of an index for this platform; attestations and unknown/unknown never match. */
export function choosePlatform(manifests: readonly Descriptor[], platform: Platform): Descriptor | undefined {
  const candidates = manifests.filter(
    (manifest) =>
      manifest.annotations?.[DOCKER_REFERENCE_TYPE] !== 'attestation-manifest' &&
      (manifest.platform === undefined ||
        (manifest.platform.os === platform.os && manifest.platform.architecture === platform.architecture)),
  );
  return (
    candidates.find((manifest) => manifest.platform?.variant === platform.variant) ??
    candidates.find((manifest) => manifest.platform !== undefined) ??
    candidates[0]
  );
}

interface LegacyLayerJson {
  id?: unknown;
  parent?: unknown;
  created?: unknown;
  author?: unknown;
  comment?: unknown;
  container_config?: { Cmd?: unknown };
  throwaway?: unknown;
  [key: string]: unknown;
}

/** Pre-1.10 archives: one directory per layer, the image config rebuilt from the top one. */
async function planLegacy(archive: ImageArchive, content: ContentStore): Promise<PlannedImage[]> {
  const repositories = (await readJsonFile(archive, content, 'repositories', 'the tag list')) as Record<
    string,
    Record<string, string>
  >;
  const byTop = new Map<string, ImageReference[]>();
  for (const [repository, tags] of Object.entries(repositories ?? {})) {
    for (const [tag, id] of Object.entries(tags ?? {})) {
      const reference = parseReference(`${repository}:${tag}`);
      byTop.set(id, [...(byTop.get(id) ?? []), reference]);
    }
  }
  const images: PlannedImage[] = [];
  for (const [top, tags] of byTop) {
    const what = `image ${familiarString(tags[0])}`;
    const chain: { id: string; json: LegacyLayerJson }[] = [];
    for (let id: string | undefined = top; id !== undefined;) {
      if (!/^[a-f0-9]{64}$/.test(id) || chain.length > 256)
        throw invalidArgument(`${what} has an invalid layer id ${id}`);
      const json = (await readJsonFile(archive, content, `${id}/json`, `layer ${id} of ${what}`)) as LegacyLayerJson;
      chain.unshift({ id, json });
      id = typeof json.parent === 'string' && json.parent !== '' ? json.parent : undefined;
    }
    const layers: Digest[] = [];
    const diffIds: Digest[] = [];
    for (const { id } of chain) {
      const file = archive.file(`${id}/layer.tar`);
      if (file === undefined) throw invalidArgument(`the archive has no ${id}/layer.tar (${what})`);
      layers.push(file.digest);
      diffIds.push(await uncompressedDigest(content, file.digest, `layer ${id} of ${what}`));
    }
    const history = chain.map(({ json }) => ({
      ...(typeof json.created === 'string' ? { created: json.created } : {}),
      ...(typeof json.author === 'string' ? { author: json.author } : {}),
      ...(typeof json.comment === 'string' ? { comment: json.comment } : {}),
      created_by: Array.isArray(json.container_config?.Cmd) ? json.container_config.Cmd.join(' ') : '',
      ...(json.throwaway === true ? { empty_layer: true } : {}),
    }));
    const topJson = { ...(chain.at(-1)?.json ?? {}) };
    for (const key of ['id', 'parent', 'Size', 'parent_id', 'layer_id', 'throwaway']) delete topJson[key];
    const bytes = Buffer.from(JSON.stringify({ ...topJson, rootfs: { type: 'layers', diff_ids: diffIds }, history }));
    const parsedConfig = parseImageConfig(JSON.parse(bytes.toString()) as unknown, `config of ${what}`);
    const { digest } = await content.write(bytes, { digest: sha256Digest(bytes) });
    images.push({ config: digest, parsedConfig, layers, tags: tags.map(withDefaultTag), manifests: [], what });
  }
  return images;
}

async function uncompressedDigest(content: ContentStore, blob: Digest, what: string): Promise<Digest> {
  const { stream } = await decompress(await content.openRead(blob), what);
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
