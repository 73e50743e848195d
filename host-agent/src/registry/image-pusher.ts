/**
 * `docker push`: for each tag, the image's layers (a few at a time), then its config, then a
 * manifest. A layer the repository has already is skipped (`HEAD`); one known to be in another
 * repository of the same registry is mounted from there; any other is uploaded in chunks. Layers
 * stored uncompressed (loaded or built here) are gzipped first, as dockerd does.
 *
 * A pulled image goes up with the manifest it was pulled with, so its digest stays the same: each
 * layer as the blob that manifest names, from the content store, or, when the layer was here
 * before the pull and that blob never came, found in the registry or mounted from the repository
 * it was pulled from. Only if a blob can be had neither way does the image get a new manifest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

import { EngineError, invalidArgument, notFound } from '../engine-error.js';
import { MEDIA_TYPE, parseJson, parseManifest, type Descriptor } from '../images/image-config.js';
import { familiarName, formatReference, parseReference, type ImageReference } from '../images/image-reference.js';
import type { ResolvedImage } from '../images/image-service.js';
import { shortId, sha256Digest, type Digest } from '../snapshots/digest.js';
import type { LayerRecord } from '../snapshots/layer-store.js';
import { classifyManifest } from './manifest-selection.js';
import {
  layerMessage,
  layerProgress,
  ProgressThrottle,
  statusMessage,
  type ProgressMessage,
} from './progress-message.js';
import { repositoryScope } from './registry-auth.js';
import type { RegistryClient } from './registry-client.js';
import type { RegistryCredentials } from './registry-credentials.js';
import { ConnectionError } from './registry-http.js';
import type { RegistryService } from './registry-service.js';
import { TaskLimiter } from './task-limiter.js';

/** PATCH size of chunked uploads. */
export const UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024;
const CHUNK_RETRIES = 3;

export interface PushRequest {
  /** The repository, without tag or digest. */
  repository: ImageReference;
  /** The tag to push; all local tags of the repository when undefined. */
  tag?: string;
  credentials: RegistryCredentials;
  signal?: AbortSignal;
  progress: (message: ProgressMessage) => Promise<void>;
}

export interface PushedTag {
  tag: string;
  digest: Digest;
  size: number;
  imageId: Digest;
}

interface Blob {
  digest: Digest;
  size: number;
  mediaType: string;
  /** The file holding it. */
  path: string;
}

/** A manifest this image was pulled with. */
interface OriginalManifest {
  bytes: Buffer;
  mediaType: string;
  /** Its layer descriptors, bottom first, one per layer of the image. */
  layers: Descriptor[];
}

/** The tags to push, checked before any progress line: unknown ones are a 404 as in dockerd. */
export function tagsToPush(service: RegistryService, repository: ImageReference, tag: string | undefined): string[] {
  const base = `${repository.domain}/${repository.path}`;
  if (tag !== undefined) {
    const key = formatReference({ ...repository, tag });
    if (service.images.store.lookup(key) === undefined) {
      throw notFound(`tag does not exist: ${familiarName(repository)}:${tag}`);
    }
    return [tag];
  }
  const tags = [...service.images.store.allReferences().keys()]
    .filter((key) => key.startsWith(`${base}:`) && !key.includes('@'))
    .map((key) => parseReference(key).tag!)
    .sort();
  if (tags.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(repository)}`);
  return tags;
}

export async function pushImage(
  service: RegistryService,
  request: PushRequest,
  tags: readonly string[],
): Promise<PushedTag[]> {
  const { repository } = request;
  await request.progress(statusMessage(`The push refers to repository [${familiarName(repository)}]`));
  const pushed: PushedTag[] = [];
  try {
    await service.withRegistry(
      {
        registry: repository.domain,
        repository: repository.path,
        credentials: request.credentials,
        scopes: [repositoryScope(repository.path, ['pull', 'push'])],
      },
      'push',
      request.signal,
      async ({ client }) => {
        for (const tag of tags) {
          const image = service.images.resolve(formatReference({ ...repository, tag }));
          pushed.push(await new Push(service, request, client, image, tag).run());
        }
      },
    );
  } catch (error) {
    if (error instanceof EngineError && (error.kind === 'unauthenticated' || error.kind === 'forbidden')) {
      throw new EngineError(error.kind, `${error.message}, run docker login ${repository.domain}`);
    }
    throw error;
  }
  return pushed;
}

class Push {
  private readonly throttle = new ProgressThrottle();
  private readonly temporary: string[] = [];

  constructor(
    private readonly service: RegistryService,
    private readonly request: PushRequest,
    private readonly client: RegistryClient,
    private readonly image: ResolvedImage,
    private readonly tag: string,
  ) {}

  private get name(): string {
    return `${familiarName(this.request.repository)}:${this.tag}`;
  }

  async run(): Promise<PushedTag> {
    const { images } = this.service;
    try {
      const records = await Promise.all(this.image.chainIds.map((chainId) => images.layers.require(chainId)));
      const original = await this.originalManifest(records);
      const oci =
        original === undefined
          ? records.some((layer) => layer.blob.compression === 'zstd')
          : original.mediaType === MEDIA_TYPE.ociManifest;
      // dockerd lists the layers top first.
      const order = records.map((_, index) => index).reverse();
      for (const index of order) await this.say(layerMessage(shortId(records[index].diffId), 'Preparing'));
      const limiter = new TaskLimiter(this.service.uploads);
      const blobs: Blob[] = new Array<Blob>(records.length);
      let firstError: unknown;
      const controller = new AbortController();
      const results = await Promise.allSettled(
        order.map((index) =>
          limiter
            .run(
              async () => {
                controller.signal.throwIfAborted();
                blobs[index] = await this.pushLayer(records[index], index, oci, original?.layers[index]);
              },
              () => void this.say(layerMessage(shortId(records[index].diffId), 'Waiting')),
            )
            .catch((error: unknown) => {
              firstError ??= error;
              controller.abort(error);
              throw error;
            }),
        ),
      );
      if (results.some((result) => result.status === 'rejected')) throw firstError;

      const configBytes = await images.content.read(this.image.id);
      await this.pushConfig(configBytes);
      const pulled = original?.layers.every((layer, index) => layer.digest === blobs[index].digest)
        ? original
        : undefined;
      const manifest =
        pulled?.bytes ??
        Buffer.from(
          JSON.stringify(
            {
              schemaVersion: 2,
              mediaType: oci ? MEDIA_TYPE.ociManifest : MEDIA_TYPE.dockerManifest,
              config: {
                mediaType: oci ? MEDIA_TYPE.ociConfig : MEDIA_TYPE.dockerConfig,
                size: configBytes.length,
                digest: this.image.id,
              },
              layers: blobs.map((blob) => ({ mediaType: blob.mediaType, size: blob.size, digest: blob.digest })),
            },
            null,
            3,
          ),
        );
      const mediaType = pulled?.mediaType ?? (oci ? MEDIA_TYPE.ociManifest : MEDIA_TYPE.dockerManifest);
      const digest = sha256Digest(manifest);
      const answered = await this.client.putManifest(
        this.tag,
        mediaType,
        manifest,
        `cannot push the manifest of ${this.name}`,
      );
      if (answered !== undefined && answered.startsWith('sha256:') && answered !== digest) {
        throw invalidArgument(`the registry stored the manifest of ${this.name} as ${answered}, but it is ${digest}`);
      }
      await images.content.write(manifest, { digest });
      await images.addReference(this.image.id, { ...this.request.repository, digest });
      await this.say(statusMessage(`${this.tag}: digest: ${digest} size: ${manifest.length}`));
      await this.say({ progressDetail: {}, aux: { Tag: this.tag, Digest: digest, Size: manifest.length } });
      return { tag: this.tag, digest, size: manifest.length, imageId: this.image.id };
    } finally {
      for (const path of this.temporary) await rm(path, { force: true });
    }
  }

  private async say(message: ProgressMessage): Promise<void> {
    if (this.request.signal?.aborted === true) return;
    await this.request.progress(message);
  }

  /**
   * The manifest this image was pulled with (of those recorded, the one whose blobs the content
   * store has most of).
   */
  private async originalManifest(records: readonly LayerRecord[]): Promise<OriginalManifest | undefined> {
    let best: { manifest: OriginalManifest; local: number } | undefined;
    for (const digest of this.image.record.manifests ?? []) {
      try {
        const bytes = await this.service.images.content.read(digest);
        const document = parseJson(bytes, 'manifest');
        const { kind, mediaType } = classifyManifest(document, undefined, 'manifest');
        if (kind !== 'manifest') continue;
        const manifest = parseManifest(document, 'manifest');
        if (manifest.config.digest !== this.image.id || manifest.layers.length !== records.length) continue;
        const local = manifest.layers.filter((layer, index) => layer.digest === records[index].blob.digest).length;
        if (best === undefined || local > best.local) {
          best = { manifest: { bytes, mediaType, layers: manifest.layers }, local };
        }
      } catch {
        // Not a usable manifest: make a new one.
      }
    }
    return best?.manifest;
  }

  /**
   * Pushes one layer: as the blob `pulledAs` names when there is one and it can be had (see the
   * top of the file), else as this store keeps it. Returns the blob the manifest is to name.
   */
  private async pushLayer(layer: LayerRecord, index: number, oci: boolean, pulledAs?: Descriptor): Promise<Blob> {
    const id = shortId(layer.diffId);
    const what = `layer ${index + 1} of ${this.name}`;
    const context = `cannot push ${what}`;
    if (pulledAs !== undefined) {
      const content = this.service.images.content;
      const original: Blob = {
        digest: pulledAs.digest,
        size: pulledAs.size,
        mediaType: pulledAs.mediaType,
        path: content.blobPath(pulledAs.digest),
      };
      if (pulledAs.digest === layer.blob.digest || (await content.size(pulledAs.digest)) === pulledAs.size) {
        return this.send(original, id, context);
      }
      if ((await this.place(original, id, context)).placed) return original;
    }
    return this.send(await this.layerBlob(layer, oci), id, context);
  }

  /** Puts the blob into the repository: there already, mounted, or uploaded. */
  private async send(blob: Blob, id: string, context: string): Promise<Blob> {
    const placed = await this.place(blob, id, context);
    if (placed.placed) return blob;
    let location = placed.location;
    if (location === undefined) {
      const started = await this.client.startUpload(context);
      if (started.mounted) throw new Error('internal: an upload without mount was mounted');
      location = started.location;
    }
    await this.upload(blob, location, id, context);
    await this.say(layerMessage(id, 'Pushed'));
    await this.service.blobSources.record([blob.digest], this.client.endpoint.registry, this.client.repository);
    return blob;
  }

  /**
   * Whether the repository has the blob, or got it by a mount from another repository of the
   * registry known to hold it; else the upload a refused mount started, if any.
   */
  private async place(
    blob: Blob,
    id: string,
    context: string,
  ): Promise<{ placed: true } | { placed: false; location?: URL }> {
    const { registry } = this.client.endpoint;
    if (await this.client.hasBlob(blob.digest, context)) {
      await this.say(layerMessage(id, 'Layer already exists'));
      return { placed: true };
    }
    const sources = await this.service.blobSources.candidates(blob.digest, registry, this.client.repository);
    for (const from of sources.slice(0, 3)) {
      const started = await this.client.startUpload(context, { digest: blob.digest, from }).catch(() => undefined);
      if (started === undefined) continue;
      if (started.mounted) {
        await this.say(layerMessage(id, `Mounted from ${familiarName({ domain: registry, path: from })}`));
        await this.service.blobSources.record([blob.digest], registry, this.client.repository);
        return { placed: true };
      }
      return { placed: false, location: started.location };
    }
    return { placed: false };
  }

  /** The blob to send for a layer as this store keeps it: the stored one if compressed, else a gzip of it made now. */
  private async layerBlob(layer: LayerRecord, oci: boolean): Promise<Blob> {
    const content = this.service.images.content;
    const { compression } = layer.blob;
    if (compression === 'gzip' || compression === 'zstd') {
      const mediaType =
        compression === 'zstd' ? MEDIA_TYPE.ociLayerZstd : oci ? MEDIA_TYPE.ociLayerGzip : MEDIA_TYPE.dockerLayerGzip;
      return { digest: layer.blob.digest, size: layer.blob.size, mediaType, path: content.blobPath(layer.blob.digest) };
    }
    const path = join(content.temporaryDirectory, `push-${randomBytes(8).toString('hex')}.tar.gz`);
    this.temporary.push(path);
    const hash = createHash('sha256');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const { stream } = await this.service.images.layers.openDiffTar(layer.chainId);
    await pipeline(stream, createGzip(), count, createWriteStream(path, { mode: 0o600 }), {
      ...(this.request.signal ? { signal: this.request.signal } : {}),
    });
    return {
      digest: `sha256:${hash.digest('hex')}`,
      size,
      mediaType: oci ? MEDIA_TYPE.ociLayerGzip : MEDIA_TYPE.dockerLayerGzip,
      path,
    };
  }

  /** PATCHes the blob in chunks, asking the registry where it stands after a broken connection. */
  private async upload(blob: Blob, start: URL, id: string, context: string): Promise<void> {
    let location = start;
    let offset = 0;
    let retries = 0;
    await this.say(layerProgress(id, 'Pushing', 0, blob.size));
    while (offset < blob.size) {
      const length = Math.min(UPLOAD_CHUNK_BYTES, blob.size - offset);
      const from = offset;
      try {
        location = await this.client.uploadChunk(
          location,
          () => this.chunkStream(blob, from, length, id),
          from,
          length,
          context,
        );
        offset += length;
      } catch (error) {
        if (!(error instanceof ConnectionError) || retries >= CHUNK_RETRIES || this.request.signal?.aborted === true) {
          throw error;
        }
        retries += 1;
        offset = await this.client.uploadedBytes(location, context);
      }
    }
    await this.client.finishUpload(location, blob.digest, context);
  }

  private chunkStream(blob: Blob, start: number, length: number, id: string): Readable {
    let sent = start;
    const progress = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        sent += chunk.length;
        if (this.throttle.due(id, sent, blob.size)) void this.say(layerProgress(id, 'Pushing', sent, blob.size));
        callback(null, chunk);
      },
    });
    const file = createReadStream(blob.path, { start, end: start + length - 1 });
    file.on('error', (error) => progress.destroy(error));
    return file.pipe(progress);
  }

  private async pushConfig(bytes: Buffer): Promise<void> {
    const context = `cannot push the config of ${this.name}`;
    if (await this.client.hasBlob(this.image.id, context)) return;
    const started = await this.client.startUpload(context);
    if (started.mounted) return;
    await this.client.finishUpload(started.location, this.image.id, context, bytes);
  }
}
