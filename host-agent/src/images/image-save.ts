/**
 * `docker save`: the entries of an archive that both `docker load` (every version since 1.10,
 * through manifest.json) and OCI tools (through index.json and oci-layout, as Docker 25+ writes
 * them) read. Layers are stored once each as uncompressed tars under `blobs/sha256/<diff id>`,
 * so every path that names a digest is the digest of its content.
 */
import type { ContentStore } from '../snapshots/content-store.js';
import { digestHex, sha256Digest, type Digest } from '../snapshots/digest.js';
import type { LayerRecord, LayerStore } from '../snapshots/layer-store.js';
import type { TarEntry } from '../snapshots/tar-packer.js';
import { MEDIA_TYPE } from './image-config.js';
import { familiarName, familiarString, formatReference, type ImageReference } from './image-reference.js';

export interface SavedImage {
  id: Digest;
  /** Names to record for it; none for an image saved by id. */
  tags: ImageReference[];
  /** Its layers, bottom first. */
  layers: LayerRecord[];
}

interface DockerSaveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

const blobPath = (digest: Digest): string => `blobs/sha256/${digestHex(digest)}`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** The archive's entries in the order they are written; layer bodies are read when reached. */
export async function* saveEntries(
  images: readonly SavedImage[],
  content: ContentStore,
  layers: LayerStore,
): AsyncGenerator<TarEntry> {
  const directory = (name: string): TarEntry => ({ header: { name, type: 'directory', mode: 0o755 } });
  const file = (name: string, body: Buffer): TarEntry => ({ header: { name, type: 'file', mode: 0o644 }, body });
  yield directory('blobs/');
  yield directory('blobs/sha256/');
  const written = new Set<Digest>();
  const manifestEntries: DockerSaveManifestEntry[] = [];
  const indexEntries: object[] = [];
  const repositories: Record<string, Record<string, string>> = {};

  for (const image of images) {
    for (const layer of image.layers) {
      if (written.has(layer.diffId)) continue;
      written.add(layer.diffId);
      yield {
        header: { name: blobPath(layer.diffId), type: 'file', mode: 0o644, size: layer.diffSize },
        body: async () => (await layers.openDiffTar(layer.chainId)).stream,
      };
    }
    const config = await content.read(image.id);
    if (!written.has(image.id)) {
      written.add(image.id);
      yield file(blobPath(image.id), config);
    }
    const manifest = json({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: image.id, size: config.length },
      layers: image.layers.map((layer) => ({
        mediaType: MEDIA_TYPE.ociLayer,
        digest: layer.diffId,
        size: layer.diffSize,
      })),
    });
    const manifestDigest = sha256Digest(manifest);
    if (!written.has(manifestDigest)) {
      written.add(manifestDigest);
      yield file(blobPath(manifestDigest), manifest);
    }
    const descriptor = { mediaType: MEDIA_TYPE.ociManifest, digest: manifestDigest, size: manifest.length };
    if (image.tags.length === 0) indexEntries.push(descriptor);
    for (const tag of image.tags) {
      indexEntries.push({
        ...descriptor,
        annotations: {
          'io.containerd.image.name': formatReference(tag),
          'org.opencontainers.image.ref.name': tag.tag ?? 'latest',
        },
      });
      const top = image.layers.at(-1);
      if (top !== undefined && tag.tag !== undefined) {
        (repositories[familiarName(tag)] ??= {})[tag.tag] = digestHex(top.diffId);
      }
    }
    manifestEntries.push({
      Config: blobPath(image.id),
      RepoTags: image.tags.length === 0 ? null : image.tags.map(familiarString),
      Layers: image.layers.map((layer) => blobPath(layer.diffId)),
    });
  }

  yield file('index.json', json({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: indexEntries }));
  yield file('manifest.json', json(manifestEntries));
  yield file('oci-layout', json({ imageLayoutVersion: '1.0.0' }));
  if (Object.keys(repositories).length > 0) yield file('repositories', json(repositories));
}
