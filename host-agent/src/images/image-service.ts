/**
 * The local images of the engine: what `docker images`, `inspect`, `history`, `tag`, `rmi`,
 * `load`, `save` and `import` do, and `resolve`, which container creation uses to find an
 * image and its layers. Everything is kept under one root directory:
 *
 *   <root>/content/sha256/<hex>     blobs: image configs, manifests, layer tars (as received)
 *   <root>/layers/<chain hex>/      unpacked layers (see LayerStore)
 *   <root>/l/<16 hex>               short links to the layers, for long overlay option strings
 *   <root>/images/                  image records and the name index (see ImageStore)
 *   <root>/containers/<id>/         each container's upper, work and merged directories
 *   <root>/empty-layer/             the lower directory of an image with no layers
 *   <root>/tmp/                     blobs and layers being written; emptied at start
 *
 * Changes to the set of images run one at a time (load, import, tag, remove, prune), so a
 * failed operation can clean up exactly what it made without racing another one.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { conflict, EngineError, invalidArgument, notFound } from '../engine-error.js';
import { ensureDirectory } from '../state/ensure-directory.js';
import { ContentStore } from '../snapshots/content-store.js';
import { chainId as chainOf, isDigest, sha256Digest, shortId, type Digest } from '../snapshots/digest.js';
import type { Compression } from '../snapshots/compression.js';
import { LayerStore, type LayerRecord, type StagedLayer } from '../snapshots/layer-store.js';
import { OverlaySnapshotter, type SnapshotPlan } from '../snapshots/overlay-snapshotter.js';
import { packTar } from '../snapshots/tar-packer.js';
import type { IdMap } from '../userns/id-map.js';
import type { SysCalls } from '../sys/sys-calls.js';
import { readImageArchive } from './image-archive.js';
import { applyChanges } from './image-changes.js';
import { hostPlatform, parseImageConfig, type ImageConfig } from './image-config.js';
import { filterImages, parseImageFilters, type FilterableImage } from './image-filters.js';
import { planLoad, type ArchiveFormat, type Platform } from './image-load-plan.js';
import {
  familiarString,
  formatReference,
  parseReference,
  tryParseReference,
  withDefaultTag,
  type ImageReference,
} from './image-reference.js';
import { saveEntries, type SavedImage } from './image-save.js';
import { ImageStore, type ImageRecord } from './image-store.js';
import {
  historyView,
  inspectView,
  summaryView,
  type HistoryItem,
  type ImageInspect,
  type ImageNames,
  type ImageSummary,
} from './image-views.js';

/** A container that uses an image, as the containers module reports it. */
export interface ImageUser {
  containerId: string;
  running: boolean;
}

/** What `isImageInUse` may answer: nothing, a plain yes, or the container. */
export type ImageUse = ImageUser | boolean | undefined;

export interface ImageServiceOptions {
  root: string;
  sys: SysCalls;
  /** Asked before an image is deleted; containers keep their image's layers alive. */
  isImageInUse?: (imageId: Digest) => ImageUse | Promise<ImageUse>;
  /** Device nodes in layers are refused unless allowed. */
  allowDeviceNodes?: boolean;
  /** The platform picked from multi-platform archives; the host's by default. */
  platform?: Platform;
  now?: () => Date;
  /** The engine's user namespace remapping (`--userns-remap`): layers are stored with host ids. */
  ids?: IdMap;
}

export interface ResolvedImage {
  id: Digest;
  record: ImageRecord;
  config: ImageConfig;
  /** The image's names in Docker's short form, e.g. `busybox:latest`. */
  repoTags: string[];
  /** Layers, bottom first. */
  chainIds: Digest[];
}

/** One item of DELETE /images/{name} and of prune's ImagesDeleted. */
export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export interface RemoveOptions {
  force?: boolean;
  /** Keep untagged parent images. */
  noprune?: boolean;
}

export interface ListOptions {
  /** Also show intermediate images (untagged parents of other images). */
  all?: boolean;
  /** The `filters` query parameter, as sent (JSON) or parsed. */
  filters?: unknown;
  /** Compute SharedSize (bytes of layers shared with other images). */
  sharedSize?: boolean;
  /** Fill in Containers (number of containers per image), e.g. for `system df`. */
  containerCount?: (imageId: Digest) => number;
}

export interface LoadOptions {
  /** Receives each line dockerd would print, as it happens. */
  onProgress?: (line: string) => void;
}

export interface LoadResult {
  format: ArchiveFormat;
  /** `Loaded image: busybox:latest`, `Loaded image ID: sha256:…`, in order. */
  lines: string[];
  images: { id: Digest; tags: string[] }[];
}

export interface ImportOptions {
  /** Repository, optionally with a tag (`repo` of POST /images/create). */
  repository?: string;
  tag?: string;
  /** Dockerfile instructions: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. */
  changes?: readonly string[];
  /** Commit message, shown as the history comment. */
  message?: string;
  /** `os[/arch[/variant]]`; the host's platform by default. */
  platform?: string;
}

export interface ImportResult {
  id: Digest;
  tags: string[];
}

/** A new image whose blobs are already in the content store (pull, build and commit use it). */
export interface NewImage {
  /** The config blob. */
  config: Digest;
  /** Layer blobs, bottom first, each to unpack to the config's diff id at the same index. */
  layers: readonly Digest[];
  tags?: readonly ImageReference[];
  manifests?: readonly Digest[];
  parent?: Digest;
  /** Names the image in errors. */
  what?: string;
}

/** A layer of a pulled image: there already, or staged by the pull and committed when recorded. */
export interface PulledLayer {
  chainId: Digest;
  staged?: StagedLayer;
  blob?: { digest: Digest; size: number; compression: Compression };
}

/** An image a registry pull has ready: blobs in the content store, layers present or staged. */
export interface PulledImage {
  config: Digest;
  /** Bottom first, one per diff id of the config. */
  layers: readonly PulledLayer[];
  manifests: readonly Digest[];
  /** Names to point at the image: the tag pulled and the repository digest. */
  references: readonly ImageReference[];
}

/** One step of a build, for `addBuiltImage`. */
export interface BuiltStep {
  /** The image the step ran on; none for the first step after `FROM scratch`. */
  parent?: Digest;
  /** The step's changes as an uncompressed layer tar; none for a step that changed no file. */
  layer?: () => AsyncIterable<Uint8Array>;
  /** The new image's config, given the diff id of the new layer (undefined when there is none). */
  config: (diffId: Digest | undefined) => unknown;
  /** Names the step in errors. */
  what?: string;
  /** Holds the new image (see `hold`) before any other change to the image set can run. */
  hold?: (release: () => void) => void;
}

export interface PruneResult {
  ImagesDeleted: ImageDeleteItem[];
  SpaceReclaimed: number;
}

const ID_PREFIX = /^(?:sha256:)?([a-f0-9]{1,64})$/;

export class ImageService {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly snapshotter: OverlaySnapshotter;
  readonly store: ImageStore;
  private readonly platform: Platform;
  private readonly now: () => Date;
  private queue: Promise<unknown> = Promise.resolve();
  /** Images held by running builds, with how many holds each. */
  private readonly holds = new Map<Digest, number>();

  private constructor(private readonly options: ImageServiceOptions) {
    this.content = new ContentStore(options.root);
    this.layers = new LayerStore(options.root, this.content, options.sys, {
      allowDevices: options.allowDeviceNodes ?? false,
      ...(options.ids ? { ids: options.ids } : {}),
    });
    this.snapshotter = new OverlaySnapshotter(options.root, this.layers, options.sys, options.ids);
    this.store = new ImageStore(options.root, this.content);
    this.platform = options.platform ?? hostPlatform();
    this.now = options.now ?? (() => new Date());
  }

  /** Opens (creating if needed) the storage under `options.root`. */
  static async open(options: ImageServiceOptions): Promise<ImageService> {
    const service = new ImageService(options);
    // 0711 when created here: an overlay mounted in a user namespace must reach the layers.
    // An existing root keeps the mode its owner gave it.
    if (!existsSync(options.root)) await ensureDirectory(options.root, 0o711);
    // Whatever is in tmp/ was being written when the agent stopped: never complete.
    await rm(join(options.root, 'tmp'), { recursive: true, force: true });
    await service.content.init();
    await service.layers.init();
    await service.snapshotter.init();
    await service.store.init();
    return service;
  }

  // ── Looking images up ──────────────────────────────────────────────────────────────────

  /**
   * The image a name, id or id prefix means, as `docker run` and `docker inspect` look it up:
   * a full id, then a name (tag `latest` implied), then a unique id prefix.
   */
  resolve(nameOrId: string): ResolvedImage {
    return this.resolved(this.lookup(nameOrId).id);
  }

  /** Like resolve, but undefined instead of a not-found error. */
  find(nameOrId: string): ResolvedImage | undefined {
    try {
      return this.resolve(nameOrId);
    } catch (error) {
      if (error instanceof EngineError && error.kind === 'not-found') return undefined;
      throw error;
    }
  }

  private resolved(id: Digest): ResolvedImage {
    const record = this.requireRecord(id);
    return {
      id,
      record,
      config: this.store.config(id),
      repoTags: this.names(id).repoTags,
      chainIds: [...record.chainIds],
    };
  }

  /** The image id and, when found by name, the index key that matched. */
  private lookup(nameOrId: string): { id: Digest; reference?: string } {
    if (isDigest(nameOrId) && this.store.get(nameOrId)) return { id: nameOrId };
    if (/^[a-f0-9]{64}$/.test(nameOrId) && this.store.get(`sha256:${nameOrId}`)) return { id: `sha256:${nameOrId}` };
    const prefix = ID_PREFIX.exec(nameOrId)?.[1];
    // dockerd answers an unreadable name with 400 invalid reference format, not 404.
    const reference = prefix === undefined ? parseReference(nameOrId) : tryParseReference(nameOrId);
    if (reference !== undefined) {
      const key = formatReference(withDefaultTag(reference));
      const id = this.store.lookup(key);
      if (id !== undefined) return { id, reference: key };
    }
    if (prefix !== undefined) {
      const matches = this.store.list().filter((record) => record.id.startsWith(`sha256:${prefix}`));
      if (matches.length === 1 && matches[0] !== undefined) return { id: matches[0].id };
      if (matches.length > 1)
        throw notFound(`No such image: ${nameOrId} (the id prefix matches ${matches.length} images)`);
    }
    const shown =
      reference !== undefined && !ID_PREFIX.test(nameOrId) ? familiarString(withDefaultTag(reference)) : nameOrId;
    throw notFound(`No such image: ${shown}`);
  }

  private requireRecord(id: Digest): ImageRecord {
    const record = this.store.get(id);
    if (record === undefined) throw notFound(`No such image: ${id}`);
    return record;
  }

  private names(id: Digest): ImageNames {
    const repoTags: string[] = [];
    const repoDigests: string[] = [];
    for (const key of this.store.referencesTo(id)) {
      const reference = parseReference(key);
      if (reference.digest !== undefined) repoDigests.push(familiarString(reference));
      else repoTags.push(familiarString(reference));
    }
    return { repoTags: repoTags.sort(), repoDigests: repoDigests.sort() };
  }

  // ── Reading ────────────────────────────────────────────────────────────────────────────

  inspect(nameOrId: string): ImageInspect {
    const { id, record, config } = this.resolve(nameOrId);
    const diffs = [...record.chainIds].reverse().map((chainId) => this.layers.diffDirectory(chainId));
    const graph: Record<string, string> = {};
    if (diffs[0] !== undefined) graph.UpperDir = diffs[0];
    if (diffs.length > 1) graph.LowerDir = diffs.slice(1).join(':');
    return inspectView(record, config, this.names(id), graph);
  }

  async history(nameOrId: string): Promise<HistoryItem[]> {
    const { id, record, config } = this.resolve(nameOrId);
    const sizes = await Promise.all(
      record.chainIds.map(async (chainId) => (await this.layers.get(chainId))?.size ?? 0),
    );
    const rows = historyView(record, config, sizes, this.names(id).repoTags);
    // Images it was built on here (each build step is one) stand in for their rows, as in dockerd.
    if (rows.length === (config.history ?? []).length) {
      for (let parent = record.parent; parent !== undefined; parent = this.store.get(parent)?.parent) {
        if (this.store.get(parent) === undefined) break;
        const index = rows.length - (this.store.config(parent).history ?? []).length;
        if (index <= 0 || index >= rows.length) break;
        rows[index] = { ...rows[index], Id: parent, Tags: this.names(parent).repoTags };
      }
    }
    return rows;
  }

  async list(options: ListOptions = {}): Promise<ImageSummary[]> {
    const filters = parseImageFilters(options.filters);
    const records = this.store.list();
    const filterable = records.map((record) => this.filterable(record));
    const filtered = filterImages(filterable, filters, {
      resolve: (name) => this.filterable(this.requireRecord(this.lookup(name).id)),
      now: this.now(),
    });
    const parents = new Set(
      records.map((record) => record.parent).filter((parent): parent is Digest => parent !== undefined),
    );
    const layerUse = new Map<Digest, number>();
    for (const record of records)
      for (const chainId of record.chainIds) layerUse.set(chainId, (layerUse.get(chainId) ?? 0) + 1);
    const summaries: ImageSummary[] = [];
    for (const { image, tags } of filtered) {
      const record = this.requireRecord(image.id);
      // Without `all`, untagged images that other images are built on stay hidden.
      if (options.all !== true && tags.length === 0 && parents.has(image.id)) continue;
      const names = this.names(image.id);
      const sharedSize = options.sharedSize === true ? await this.sharedSize(record, layerUse) : undefined;
      summaries.push(
        summaryView(
          record,
          this.store.config(image.id),
          { repoTags: tags.map(familiarString).sort(), repoDigests: names.repoDigests },
          {
            ...(sharedSize === undefined ? {} : { sharedSize }),
            ...(options.containerCount ? { containers: options.containerCount(image.id) } : {}),
          },
        ),
      );
    }
    return summaries.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  private filterable(record: ImageRecord): FilterableImage {
    const config = this.store.config(record.id);
    const created = config.created === undefined ? 0 : Date.parse(config.created);
    return {
      id: record.id,
      created: Number.isNaN(created) ? 0 : created,
      labels: config.config?.Labels ?? {},
      tags: this.store
        .referencesTo(record.id)
        .map((key) => parseReference(key))
        .filter((reference) => reference.digest === undefined),
    };
  }

  private async sharedSize(record: ImageRecord, layerUse: ReadonlyMap<Digest, number>): Promise<number> {
    let total = 0;
    for (const chainId of record.chainIds) {
      if ((layerUse.get(chainId) ?? 0) > 1) total += (await this.layers.get(chainId))?.size ?? 0;
    }
    return total;
  }

  // ── Names ──────────────────────────────────────────────────────────────────────────────

  /** `docker tag SOURCE REPOSITORY[:TAG]`; returns the new name in short form. */
  async tag(source: string, repository: string, tag?: string): Promise<string> {
    return this.serially(async () => {
      const { id } = this.lookup(source);
      const reference = this.targetReference(repository, tag);
      await this.store.updateReferences(new Map([[formatReference(reference), id]]));
      await this.store.put({ ...this.requireRecord(id), lastTagTime: this.now().toISOString() }, this.store.config(id));
      return familiarString(reference);
    });
  }

  private targetReference(repository: string, tag: string | undefined): ImageReference {
    const base = parseReference(repository);
    if (base.digest !== undefined) throw invalidArgument('refusing to create a tag with a digest reference');
    if (tag === undefined || tag === '') return withDefaultTag(base);
    if (base.tag !== undefined) throw invalidArgument(`invalid reference format: ${repository} already has a tag`);
    return parseReference(`${formatReference(base)}:${tag}`);
  }

  // ── Removing ───────────────────────────────────────────────────────────────────────────

  /** `docker rmi`: untags, and deletes the image and its unused layers when no name is left. */
  async remove(nameOrId: string, options: RemoveOptions = {}): Promise<ImageDeleteItem[]> {
    return this.serially(async () => {
      const force = options.force ?? false;
      const { id, reference } = this.lookup(nameOrId);
      const references = this.store.referencesTo(id);
      const items: ImageDeleteItem[] = [];
      const untag = async (keys: readonly string[]): Promise<void> => {
        if (keys.length === 0) return;
        await this.store.updateReferences(new Map(keys.map((key) => [key, undefined])));
        for (const key of keys) items.push({ Untagged: familiarString(parseReference(key)) });
      };
      if (reference !== undefined) {
        const otherTags = references.filter((key) => key !== reference && parseReference(key).digest === undefined);
        // Other names keep the image; so does an image that others are built on.
        if (otherTags.length > 0 || this.hasChildren(id)) {
          await untag([reference]);
          return items;
        }
        const user = await this.userOf(id);
        if (user !== undefined) {
          if (!force) {
            throw conflict(
              `conflict: unable to remove repository reference "${nameOrId}" (must force) - container ${shortId(user.containerId) || '(unknown)'} is using its referenced image ${shortId(id)}`,
            );
          }
          // Forced: the name goes, the image stays for the container that needs its layers.
          await untag([reference]);
          return items;
        }
        await untag([reference, ...references.filter((key) => key !== reference)]);
        await this.deleteImage(id, options.noprune ?? false, items);
        return items;
      }
      if (references.length > 1 && !force) {
        throw conflict(
          `conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      const user = await this.userOf(id);
      if (user !== undefined) {
        if (user.running || !force) {
          throw conflict(
            `conflict: unable to delete ${shortId(id)} (${user.running ? 'cannot be forced' : 'must be forced'}) - image is being used by ${user.running ? 'running' : 'stopped'} container ${shortId(user.containerId) || '(unknown)'}`,
          );
        }
        await untag(references);
        return items;
      }
      if (this.hasChildren(id)) {
        throw conflict(
          `conflict: unable to delete ${shortId(id)} (cannot be forced) - image has dependent child images`,
        );
      }
      await untag(references);
      await this.deleteImage(id, options.noprune ?? false, items);
      return items;
    });
  }

  private hasChildren(id: Digest): boolean {
    return this.store.list().some((record) => record.parent === id);
  }

  /**
   * Keeps an image (and so its layers) from removal and prune until `release` is called: a build
   * holds the images it stands on and mounts, which no container uses yet.
   */
  hold(id: Digest): () => void {
    this.holds.set(id, (this.holds.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holds.get(id) ?? 1) - 1;
      if (left > 0) this.holds.set(id, left);
      else this.holds.delete(id);
    };
  }

  private async userOf(id: Digest): Promise<ImageUser | undefined> {
    // Held by a build: as good as a running container, so not even a forced removal takes it.
    if (this.holds.has(id)) return { containerId: '', running: true };
    const answer = await this.options.isImageInUse?.(id);
    if (answer === undefined || answer === false) return undefined;
    if (answer === true) return { containerId: '', running: false };
    return answer;
  }

  /** Deletes an image that has no names, then its layers and blobs no other image uses. */
  private async deleteImage(id: Digest, noprune: boolean, items: ImageDeleteItem[]): Promise<void> {
    const record = this.requireRecord(id);
    await this.store.delete(id);
    items.push({ Deleted: id });
    for (const chainId of await this.collectGarbage({
      layers: [...record.chainIds].reverse(),
      blobs: [id, ...(record.manifests ?? [])],
    })) {
      items.push({ Deleted: chainId });
    }
    const parent = record.parent;
    if (
      !noprune &&
      parent !== undefined &&
      this.store.get(parent) !== undefined &&
      this.store.referencesTo(parent).length === 0 &&
      !this.hasChildren(parent) &&
      (await this.userOf(parent)) === undefined
    ) {
      await this.deleteImage(parent, noprune, items);
    }
  }

  /**
   * Removes the candidate layers no image stands on, then the candidate blobs (and the blobs of
   * removed layers) that no image or layer refers to. Returns the removed layers' chain ids.
   */
  private async collectGarbage(candidates: {
    layers?: readonly Digest[];
    blobs?: readonly Digest[];
  }): Promise<Digest[]> {
    const usedLayers = new Set(this.store.list().flatMap((record) => record.chainIds));
    const removed: Digest[] = [];
    const blobs = new Set(candidates.blobs ?? []);
    for (const chainId of candidates.layers ?? []) {
      if (usedLayers.has(chainId)) continue;
      const layer = await this.layers.get(chainId);
      if (layer === undefined) continue;
      await this.layers.delete(chainId);
      removed.push(chainId);
      blobs.add(layer.blob.digest);
    }
    if (blobs.size > 0) {
      const usedBlobs = new Set<Digest>();
      for (const record of this.store.list()) {
        usedBlobs.add(record.id);
        for (const manifest of record.manifests ?? []) usedBlobs.add(manifest);
      }
      for (const layer of await this.layers.list()) usedBlobs.add(layer.blob.digest);
      for (const blob of blobs) if (!usedBlobs.has(blob)) await this.content.delete(blob);
    }
    return removed;
  }

  /** `docker image prune`: unused images, dangling ones only unless `dangling=false`. */
  async prune(filters?: unknown): Promise<PruneResult> {
    const parsed = parseImageFilters(filters);
    const danglingOnly =
      parsed.dangling === undefined || parsed.dangling.some((value) => value === 'true' || value === '1');
    const candidates = await this.list({ all: true, filters: { ...parsed, dangling: danglingOnly ? ['true'] : [] } });
    const result: PruneResult = { ImagesDeleted: [], SpaceReclaimed: 0 };
    for (const summary of candidates) {
      if ((await this.userOf(summary.Id)) !== undefined) continue;
      if (this.store.get(summary.Id) === undefined) continue;
      if (this.hasChildren(summary.Id)) continue;
      const items = await this.remove(summary.Id, { force: true });
      result.ImagesDeleted.push(...items);
      if (items.some((item) => item.Deleted === summary.Id)) result.SpaceReclaimed += summary.Size;
    }
    return result;
  }

  // ── Adding ─────────────────────────────────────────────────────────────────────────────

  /** `docker load` of a docker-save archive or an OCI layout tar, plain or gzipped. */
  async load(source: AsyncIterable<Uint8Array>, options: LoadOptions = {}): Promise<LoadResult> {
    return this.serially(async () => {
      const lines: string[] = [];
      const say = (line: string): void => {
        lines.push(line);
        options.onProgress?.(line);
      };
      const archive = await readImageArchive(source, this.content);
      const candidates = archive.createdBlobs();
      try {
        const plan = await planLoad(archive, this.content, this.platform);
        candidates.push(...plan.images.map((image) => image.config));
        const images: LoadResult['images'] = [];
        for (const image of plan.images) {
          await this.storeImage({
            config: image.config,
            layers: image.layers,
            manifests: image.manifests,
            what: image.what,
          });
        }
        const changes = new Map<string, Digest>();
        for (const image of plan.images) {
          for (const tag of image.tags) {
            const key = formatReference(tag);
            const previous = this.store.lookup(key);
            if (previous !== undefined && previous !== image.config) {
              say(
                `The image ${familiarString(tag)} already exists, renaming the old one with ID ${previous} to empty string`,
              );
            }
            changes.set(key, image.config);
          }
        }
        await this.store.updateReferences(changes);
        for (const image of plan.images) {
          if (image.tags.length > 0) {
            await this.store.put(
              { ...this.requireRecord(image.config), lastTagTime: this.now().toISOString() },
              image.parsedConfig,
            );
          }
          const tags = image.tags.map(familiarString);
          for (const tag of tags) say(`Loaded image: ${tag}`);
          if (tags.length === 0) say(`Loaded image ID: ${image.config}`);
          images.push({ id: image.config, tags });
        }
        return { format: plan.format, lines, images };
      } finally {
        await this.collectGarbage({ blobs: candidates });
      }
    });
  }

  /**
   * Stores an image whose config and layer blobs are in the content store: unpacks its layers
   * (checking each diff id) and records it. Names are not touched. Layers unpacked for an image
   * that then fails are removed again.
   */
  async addImage(image: NewImage): Promise<ResolvedImage> {
    return this.serially(async () => {
      const id = await this.storeImage(image);
      if (image.tags !== undefined && image.tags.length > 0) {
        await this.store.updateReferences(new Map(image.tags.map((tag) => [formatReference(withDefaultTag(tag)), id])));
        await this.store.put(
          { ...this.requireRecord(id), lastTagTime: this.now().toISOString() },
          this.store.config(id),
        );
      }
      return this.resolved(id);
    });
  }

  private async storeImage(image: NewImage): Promise<Digest> {
    const what = image.what ?? `image ${image.config}`;
    const config = parseImageConfig(await this.content.readJson(image.config), `config of ${what}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== image.layers.length) {
      throw invalidArgument(`${what} has ${image.layers.length} layers but its config has ${diffIds.length} diff ids`);
    }
    const made: Digest[] = [];
    const layers: LayerRecord[] = [];
    try {
      let parent: Digest | undefined;
      for (const [index, blob] of image.layers.entries()) {
        const diffId = diffIds[index];
        const existed = (await this.layers.get(chainOf(parent, diffId))) !== undefined;
        const layer = await this.layers.unpack({
          blob,
          diffId,
          ...(parent ? { parent } : {}),
          what: `layer ${index + 1} of ${what}`,
        });
        if (!existed) made.push(layer.chainId);
        layers.push(layer);
        parent = layer.chainId;
      }
    } catch (error) {
      await this.collectGarbage({ layers: made.reverse() });
      throw error;
    }
    const existing = this.store.get(image.config);
    const manifests = [...new Set([...(existing?.manifests ?? []), ...(image.manifests ?? [])])];
    const record: ImageRecord = {
      id: image.config,
      chainIds: layers.map((layer) => layer.chainId),
      size: layers.reduce((total, layer) => total + layer.size, 0),
      storedAt: existing?.storedAt ?? this.now().toISOString(),
      ...(existing?.lastTagTime ? { lastTagTime: existing.lastTagTime } : {}),
      ...((image.parent ?? existing?.parent) ? { parent: image.parent ?? existing?.parent } : {}),
      ...(manifests.length > 0 ? { manifests } : {}),
    };
    await this.store.put(record, config);
    return image.config;
  }

  /**
   * Records a pulled image: commits its staged layers (bottom first, each on the one below),
   * stores the record and points the references at it, all in the image-set queue, so no removal
   * runs in between. On failure the layers committed here are removed again and the staged
   * ones discarded: no image and no partial layer is left.
   */
  async addPulledImage(image: PulledImage): Promise<ResolvedImage> {
    const discardStaged = async (): Promise<void> => {
      for (const layer of image.layers) if (layer.staged) await this.layers.discard(layer.staged);
    };
    return this.serially(async () => {
      const made: Digest[] = [];
      try {
        const config = parseImageConfig(await this.content.readJson(image.config), `config of image ${image.config}`);
        if (config.rootfs.diff_ids.length !== image.layers.length) {
          throw invalidArgument(
            `image ${image.config} has ${image.layers.length} layers but its config has ${config.rootfs.diff_ids.length} diff ids`,
          );
        }
        if (image.layers.some((layer) => layer.staged !== undefined)) await this.layers.syncStaging();
        const records: LayerRecord[] = [];
        for (const [index, layer] of image.layers.entries()) {
          let record = await this.layers.get(layer.chainId);
          if (record === undefined) {
            if (layer.staged === undefined || layer.blob === undefined) {
              throw notFound(`layer ${layer.chainId} was removed while the image was pulled: pull it again`);
            }
            record = await this.layers.commit(layer.staged, {
              ...(index > 0 ? { parent: image.layers[index - 1].chainId } : {}),
              blob: layer.blob,
              synced: true,
            });
            made.push(record.chainId);
          } else if (layer.staged !== undefined) {
            await this.layers.discard(layer.staged);
          }
          if (record.chainId !== layer.chainId)
            throw new Error(`internal: layer ${index + 1} has chain id ${record.chainId}`);
          records.push(record);
        }
        const existing = this.store.get(image.config);
        const manifests = [...new Set([...(existing?.manifests ?? []), ...image.manifests])];
        const tagged = image.references.some((reference) => reference.digest === undefined);
        const now = this.now().toISOString();
        await this.store.put(
          {
            id: image.config,
            chainIds: records.map((record) => record.chainId),
            size: records.reduce((total, record) => total + record.size, 0),
            storedAt: existing?.storedAt ?? now,
            ...(tagged ? { lastTagTime: now } : existing?.lastTagTime ? { lastTagTime: existing.lastTagTime } : {}),
            ...(existing?.parent ? { parent: existing.parent } : {}),
            ...(manifests.length > 0 ? { manifests } : {}),
          },
          config,
        );
        await this.store.updateReferences(
          new Map(image.references.map((reference) => [formatReference(reference), image.config])),
        );
        return this.resolved(image.config);
      } catch (error) {
        await discardStaged();
        await this.collectGarbage({ layers: made.reverse() });
        throw error;
      }
    });
  }

  /**
   * Records one step of a build: the image `parent` (none on `FROM scratch`) plus, when the step
   * changed files, one layer from `step.layer` (an uncompressed layer tar), with the config
   * `step.config` makes for the new layer's diff id. The layer is written and unpacked before the
   * image-set queue is entered; on failure nothing of it is left.
   */
  async addBuiltImage(step: BuiltStep): Promise<ResolvedImage> {
    let blob: { digest: Digest; size: number; created: boolean } | undefined;
    let staged: StagedLayer | undefined;
    const what = step.what ?? 'the build step';
    try {
      if (step.layer !== undefined) {
        blob = await this.content.write(step.layer(), { what: `the layer of ${what}` });
        staged = await this.layers.stage(await this.content.openRead(blob.digest), { what: `the layer of ${what}` });
      }
    } catch (error) {
      if (blob?.created) await this.discardBlobs([blob.digest]);
      throw error;
    }
    return this.serially(async () => {
      const made: Digest[] = [];
      try {
        const parent = step.parent === undefined ? undefined : this.requireRecord(step.parent);
        const chainIds = [...(parent?.chainIds ?? [])];
        let size = parent?.size ?? 0;
        if (staged !== undefined && blob !== undefined) {
          const existed = (await this.layers.get(chainOf(chainIds.at(-1), staged.diffId))) !== undefined;
          const layer = await this.layers.commit(staged, {
            ...(chainIds.length > 0 ? { parent: chainIds[chainIds.length - 1] } : {}),
            blob: { digest: blob.digest, size: blob.size, compression: 'none' },
          });
          staged = undefined;
          if (!existed) made.push(layer.chainId);
          chainIds.push(layer.chainId);
          size += layer.size;
        }
        const layer =
          chainIds.length > (parent?.chainIds.length ?? 0)
            ? await this.layers.get(chainIds.at(-1) as Digest)
            : undefined;
        const config = parseImageConfig(step.config(layer?.diffId), `config of ${what}`);
        const bytes = Buffer.from(JSON.stringify(config));
        const { digest: id } = await this.content.write(bytes, { digest: sha256Digest(bytes) });
        const existing = this.store.get(id);
        await this.store.put(
          {
            id,
            chainIds,
            size,
            storedAt: existing?.storedAt ?? this.now().toISOString(),
            ...(existing?.lastTagTime ? { lastTagTime: existing.lastTagTime } : {}),
            ...(step.parent ? { parent: step.parent } : {}),
          },
          config,
        );
        step.hold?.(this.hold(id));
        return this.resolved(id);
      } catch (error) {
        if (staged !== undefined) await this.layers.discard(staged);
        await this.collectGarbage({ layers: made.reverse(), blobs: blob ? [blob.digest] : [] });
        throw error;
      } finally {
        // A layer that was there already keeps its own blob; ours then goes.
        if (blob !== undefined) await this.collectGarbage({ blobs: [blob.digest] });
      }
    });
  }

  /** Removes blobs a failed pull added, unless an image or layer uses them. */
  async discardBlobs(blobs: readonly Digest[]): Promise<void> {
    if (blobs.length === 0) return;
    await this.serially(async () => {
      await this.collectGarbage({ blobs });
    });
  }

  /** Points a name (a repository digest after a push) at an image. */
  async addReference(id: Digest, reference: ImageReference): Promise<void> {
    await this.serially(async () => {
      this.requireRecord(id);
      await this.store.updateReferences(new Map([[formatReference(reference), id]]));
    });
  }

  /** `docker import`: a root filesystem tar (plain or gzip) as a one-layer image. */
  async importImage(source: AsyncIterable<Uint8Array>, options: ImportOptions = {}): Promise<ImportResult> {
    const reference =
      options.repository === undefined || options.repository === ''
        ? undefined
        : this.targetReference(options.repository, options.tag);
    const platform = options.platform ? parsePlatform(options.platform) : this.platform;
    const defaults = applyChanges({}, options.changes ?? []);
    return this.serially(async () => {
      const blob = await this.content.write(source, { what: 'the imported archive' });
      let layer: LayerRecord;
      try {
        layer = await this.layers.unpack({ blob: blob.digest, what: 'the imported archive' });
      } catch (error) {
        if (blob.created) await this.collectGarbage({ blobs: [blob.digest] });
        throw error;
      }
      const created = this.now().toISOString();
      const comment = options.message ?? 'Imported from -';
      const config = {
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        created,
        comment,
        config: defaults,
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created, comment }],
      };
      const bytes = Buffer.from(JSON.stringify(config));
      const { digest: id } = await this.content.write(bytes, { digest: sha256Digest(bytes) });
      const existed = this.store.get(id);
      await this.store.put(
        {
          id,
          chainIds: [layer.chainId],
          size: layer.size,
          storedAt: existed?.storedAt ?? created,
          ...(reference ? { lastTagTime: created } : existed?.lastTagTime ? { lastTagTime: existed.lastTagTime } : {}),
        },
        parseImageConfig(config),
      );
      if (reference) await this.store.updateReferences(new Map([[formatReference(reference), id]]));
      return { id, tags: reference ? [familiarString(reference)] : [] };
    });
  }

  // ── Exporting ──────────────────────────────────────────────────────────────────────────

  /**
   * `docker save NAME…`: a name with a tag (or an id) saves that image, a bare repository name
   * all its tags. Unknown names fail here, before any byte is streamed.
   */
  async save(names: readonly string[]): Promise<Readable> {
    if (names.length === 0) throw invalidArgument('no images to save');
    const images = new Map<Digest, ImageReference[]>();
    const add = (id: Digest, tag?: ImageReference): void => {
      const tags = images.get(id) ?? [];
      if (tag !== undefined && !tags.some((known) => formatReference(known) === formatReference(tag))) tags.push(tag);
      images.set(id, tags);
    };
    for (const name of names) {
      const reference = tryParseReference(name);
      if (reference !== undefined && reference.tag === undefined && reference.digest === undefined) {
        const repository = `${reference.domain}/${reference.path}:`;
        const tagged = [...this.store.allReferences()].filter(([key]) => key.startsWith(repository));
        if (tagged.length > 0) {
          for (const [key, id] of tagged) add(id, parseReference(key));
          continue;
        }
      }
      const { id, reference: key } = this.lookup(name);
      const matched = key === undefined ? undefined : parseReference(key);
      add(id, matched?.digest === undefined ? matched : undefined);
    }
    const saved: SavedImage[] = [];
    for (const [id, tags] of images) {
      const record = this.requireRecord(id);
      saved.push({
        id,
        tags,
        layers: await Promise.all(record.chainIds.map((chainId) => this.layers.require(chainId))),
      });
    }
    return packTar(saveEntries(saved, this.content, this.layers));
  }

  // ── Containers ─────────────────────────────────────────────────────────────────────────

  /**
   * The rootfs plan of a new container on an image (see OverlaySnapshotter); nothing is
   * created until `snapshotter.prepare(plan)`.
   */
  async rootfsPlan(containerId: string, image: ResolvedImage | string): Promise<SnapshotPlan> {
    const resolved = typeof image === 'string' ? this.resolve(image) : image;
    for (const chainId of resolved.chainIds) await this.layers.require(chainId);
    return this.snapshotter.plan(containerId, resolved.chainIds);
  }

  /** Bytes used by layers (unpacked) and blobs, for `system df`. */
  async diskUsage(): Promise<{ layersSize: number; blobsSize: number }> {
    const layersSize = (await this.layers.list()).reduce((total, layer) => total + layer.size, 0);
    let blobsSize = 0;
    for (const digest of await this.content.list()) blobsSize += (await this.content.size(digest)) ?? 0;
    return { layersSize, blobsSize };
  }

  /** Runs image-set changes one after another. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** `linux`, `linux/amd64`, `linux/arm64/v8`. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant] = text.split('/');
  if (!os || os !== 'linux') throw invalidArgument(`unsupported platform: ${text} (only linux)`);
  const host = hostPlatform();
  return { os, architecture: architecture || host.architecture, ...(variant ? { variant } : {}) };
}
