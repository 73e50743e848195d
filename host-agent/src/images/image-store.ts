/**
 * The local images: which images exist, which layers they stand on, and which names point at
 * them.
 *
 *   <root>/content/sha256/<id hex>        each image's config (the image id is its digest)
 *   <root>/images/meta/<id hex>.json      ImageRecord: layers, size, times, manifests
 *   <root>/images/references.json         the tag and digest index: name → image id
 *
 * Every file is replaced atomically. An image is added by writing its config, layers and record
 * before any name points at it, and removed in the opposite order, so a crash leaves at worst an
 * unnamed image or an unused layer, never a name without an image.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { ensureDirectory } from '../state/ensure-directory.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import type { ContentStore } from '../snapshots/content-store.js';
import { digestHex, isDigest, type Digest } from '../snapshots/digest.js';
import { parseImageConfig, type ImageConfig } from './image-config.js';

export interface ImageRecord {
  /** The digest of the image config. */
  id: Digest;
  /** The image's layers, bottom first. */
  chainIds: Digest[];
  /** Bytes of all layers' files. */
  size: number;
  /** When this engine stored the image. */
  storedAt: string;
  /** When a name was last given to it (Metadata.LastTagTime). */
  lastTagTime?: string;
  /** The image it was built or committed on, if made here. */
  parent?: Digest;
  /** Manifests describing it that are kept in the content store (pull, OCI load). */
  manifests?: Digest[];
}

interface ReferencesFile {
  references: Record<string, Digest>;
}

export class ImageStore {
  readonly imagesDirectory: string;
  private readonly metaDirectory: string;
  private readonly referencesPath: string;
  private readonly records = new Map<Digest, ImageRecord>();
  private readonly configs = new Map<Digest, ImageConfig>();
  private references = new Map<string, Digest>();

  constructor(
    readonly root: string,
    private readonly content: ContentStore,
  ) {
    this.imagesDirectory = join(root, 'images');
    this.metaDirectory = join(this.imagesDirectory, 'meta');
    this.referencesPath = join(this.imagesDirectory, 'references.json');
  }

  /** Reads the records and the index; an image whose config blob is gone is dropped. */
  async init(): Promise<void> {
    await ensureDirectory(this.metaDirectory, 0o700);
    this.records.clear();
    this.configs.clear();
    for (const name of await readdir(this.metaDirectory)) {
      if (!name.endsWith('.json')) continue;
      const record = JSON.parse(await readFile(join(this.metaDirectory, name), 'utf8')) as ImageRecord;
      if (!isDigest(record.id) || !(await this.content.has(record.id))) continue;
      this.records.set(record.id, record);
      this.configs.set(
        record.id,
        parseImageConfig(await this.content.readJson(record.id), `config of image ${record.id}`),
      );
    }
    let file: ReferencesFile = { references: {} };
    try {
      file = JSON.parse(await readFile(this.referencesPath, 'utf8')) as ReferencesFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.references = new Map(Object.entries(file.references).filter(([, id]) => isDigest(id) && this.records.has(id)));
  }

  list(): ImageRecord[] {
    return [...this.records.values()];
  }

  get(id: Digest): ImageRecord | undefined {
    return this.records.get(id);
  }

  /** The parsed config of a stored image. */
  config(id: Digest): ImageConfig {
    const config = this.configs.get(id);
    if (config === undefined) throw new Error(`internal: image ${id} has no config loaded`);
    return config;
  }

  async put(record: ImageRecord, config: ImageConfig): Promise<void> {
    await writeFileAtomic(
      join(this.metaDirectory, `${digestHex(record.id)}.json`),
      `${JSON.stringify(record, null, 2)}\n`,
      {
        mode: 0o600,
      },
    );
    this.records.set(record.id, record);
    this.configs.set(record.id, config);
  }

  /** Forgets the image record; its names must be gone already. */
  async delete(id: Digest): Promise<void> {
    await rm(join(this.metaDirectory, `${digestHex(id)}.json`), { force: true });
    this.records.delete(id);
    this.configs.delete(id);
  }

  /** Every name (full form, e.g. `docker.io/library/busybox:latest`) and its image. */
  allReferences(): Map<string, Digest> {
    return new Map(this.references);
  }

  lookup(reference: string): Digest | undefined {
    return this.references.get(reference);
  }

  referencesTo(id: Digest): string[] {
    return [...this.references].filter(([, target]) => target === id).map(([reference]) => reference);
  }

  /** Points names at images (or removes names, for `undefined`) in one atomic write. */
  async updateReferences(changes: ReadonlyMap<string, Digest | undefined>): Promise<void> {
    const next = new Map(this.references);
    for (const [reference, id] of changes) {
      if (id === undefined) next.delete(reference);
      else next.set(reference, id);
    }
    const sorted = Object.fromEntries([...next].sort(([a], [b]) => a.localeCompare(b)));
    await writeFileAtomic(this.referencesPath, `${JSON.stringify({ references: sorted }, null, 2)}\n`, { mode: 0o600 });
    this.references = next;
  }
}
