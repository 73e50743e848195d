/**
 * Image layers, unpacked once per chain id and shared read-only by every image and container
 * that uses them:
 *
 *   <root>/layers/<chain-id hex>/diff        the layer's files, whiteouts as overlayfs wants them
 *   <root>/layers/<chain-id hex>/layer.json  what the layer is (LayerRecord)
 *   <root>/l/<16 hex>                        a short symlink to diff/, for long overlay option strings
 *
 * A layer is unpacked into `<root>/tmp/`, its diff id checked, its metadata written and the
 * filesystem synced, and only then renamed to its chain id: a layer directory under its name is
 * always complete. Deletion renames it away first for the same reason.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { invalidArgument, notFound } from '../engine-error.js';
import { ensureDirectory } from '../state/ensure-directory.js';
import type { SysCalls } from '../sys/sys-calls.js';
import { decompress, type Compression } from './compression.js';
import type { ContentStore } from './content-store.js';
import { chainId as chainIdOf, digestHex, isDigest, type Digest } from './digest.js';
import { inputError } from './input-error.js';
import { extractTar } from './tar-extractor.js';
import type { IdMap } from '../userns/id-map.js';

export interface LayerRecord {
  chainId: Digest;
  /** sha256 of the uncompressed layer tar. */
  diffId: Digest;
  /** Chain id of the layer below, absent for a base layer. */
  parent?: Digest;
  /** Bytes of the files in the layer. */
  size: number;
  /** The blob it was unpacked from, kept in the content store for save and push. */
  blob: { digest: Digest; size: number; compression: Compression };
  /** Length of the uncompressed tar (the size of a layer entry in a docker-save archive). */
  diffSize: number;
  createdAt: string;
}

export interface UnpackRequest {
  /** The blob in the content store holding the layer tar, plain or compressed. */
  blob: Digest;
  /** Chain id of the layer below. */
  parent?: Digest;
  /** The diff id the image config promises; the unpacked tar must hash to it. */
  diffId?: Digest;
  /** Names the layer in errors, e.g. `layer 2 of busybox:latest`. */
  what?: string;
}

export interface LayerStoreOptions {
  /** Device nodes in layers are refused unless allowed. */
  allowDevices?: boolean;
  /** The engine's user namespace remapping: layers are unpacked owned by the host ids it maps to. */
  ids?: IdMap;
}

/** A layer unpacked into tmp/ by `stage`, not yet a layer of the store (see `commit`). */
export interface StagedLayer {
  readonly diffId: Digest;
  /** Bytes of the files in the layer. */
  readonly size: number;
  /** Length of the uncompressed tar. */
  readonly diffSize: number;
  /** The staging directory; `commit` moves it, `discard` removes it. */
  readonly directory: string;
}

export interface CommitRequest {
  /** Chain id of the layer below. */
  parent?: Digest;
  /** The blob the layer came from, already in the content store. */
  blob: { digest: Digest; size: number; compression: Compression };
  /** The caller synced the filesystem after staging (see `syncStaging`); skip the syncfs. */
  synced?: boolean;
}

const SHORT_LINK_LENGTH = 16;

export class LayerStore {
  readonly layersDirectory: string;
  readonly linksDirectory: string;
  private readonly temporaryDirectory: string;
  private readonly inFlight = new Map<Digest, Promise<LayerRecord>>();
  private flushing: Promise<void> | undefined;
  private flushAgain = false;

  constructor(
    readonly root: string,
    private readonly content: ContentStore,
    private readonly sys: SysCalls,
    private readonly options: LayerStoreOptions = {},
  ) {
    this.layersDirectory = join(root, 'layers');
    this.linksDirectory = join(root, 'l');
    this.temporaryDirectory = join(root, 'tmp');
  }

  async init(): Promise<void> {
    // 0711: an overlay mounted inside a user namespace must reach the layers (search, not list).
    await ensureDirectory(this.layersDirectory, 0o711);
    await ensureDirectory(this.linksDirectory, 0o711);
    await ensureDirectory(this.temporaryDirectory, 0o700);
    // Each layer is unpacked into a directory of its own under tmp/: on ext4 it then gets a block
    // group of its own, so layers unpacked at once do not queue for one group's locks, and a new
    // layer's files are not allocated among the inodes a removed image freed a moment ago (ext4
    // without a journal scans past every inode freed in the last 30 s, for each file it creates).
    try {
      this.sys.markTopDirectory(this.temporaryDirectory);
    } catch {
      // Only a placement hint: a filesystem that refuses it unpacks the same, a little slower.
    }
  }

  layerDirectory(chainId: Digest): string {
    return join(this.layersDirectory, digestHex(chainId));
  }

  diffDirectory(chainId: Digest): string {
    return join(this.layerDirectory(chainId), 'diff');
  }

  /** A short path to the layer's diff directory (a symlink made when the layer is unpacked). */
  shortDiffPath(chainId: Digest): string {
    return join(this.linksDirectory, digestHex(chainId).slice(0, SHORT_LINK_LENGTH));
  }

  async get(chainId: Digest): Promise<LayerRecord | undefined> {
    try {
      return parseRecord(await readFile(join(this.layerDirectory(chainId), 'layer.json'), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async require(chainId: Digest): Promise<LayerRecord> {
    const record = await this.get(chainId);
    if (record === undefined) throw notFound(`no such layer: ${chainId}`);
    return record;
  }

  async list(): Promise<LayerRecord[]> {
    const names = await readdir(this.layersDirectory);
    const records = await Promise.all(
      names
        .map((name) => `sha256:${name}`)
        .filter(isDigest)
        .map((chainId) => this.get(chainId)),
    );
    return records.filter((record): record is LayerRecord => record !== undefined);
  }

  /**
   * Makes sure the layer exists, unpacking the blob unless a layer with the same chain id is
   * already there. Concurrent requests for one chain id share one unpack.
   */
  async unpack(request: UnpackRequest): Promise<LayerRecord> {
    if (request.parent !== undefined && (await this.get(request.parent)) === undefined) {
      throw notFound(`cannot unpack ${request.what ?? 'layer'}: its parent layer ${request.parent} is missing`);
    }
    if (request.diffId !== undefined) {
      const chainId = chainIdOf(request.parent, request.diffId);
      const existing = await this.get(chainId);
      if (existing !== undefined) {
        // Already unpacked; still check the blob is what it claims, as dockerd does by
        // reading every layer it is given.
        if (existing.blob.digest !== request.blob && request.blob !== request.diffId) {
          await this.verifyDiffId(request.blob, request.diffId, request.what ?? `layer ${request.blob}`);
        }
        await this.ensureShortLink(chainId);
        return existing;
      }
      const running = this.inFlight.get(chainId);
      if (running !== undefined) return running;
      const unpacking = this.unpackNew(request).finally(() => this.inFlight.delete(chainId));
      this.inFlight.set(chainId, unpacking);
      return unpacking;
    }
    return this.unpackNew(request);
  }

  private async unpackNew({ blob, parent, diffId, what = `layer ${blob}` }: UnpackRequest): Promise<LayerRecord> {
    const blobSize = await this.content.size(blob);
    if (blobSize === undefined) throw notFound(`cannot unpack ${what}: no such blob ${blob}`);
    const staging = join(this.temporaryDirectory, `layer-${randomBytes(8).toString('hex')}`);
    await ensureDirectory(staging, 0o711);
    try {
      const { compression, stream } = await decompress(await this.content.openRead(blob), what);
      const result = await extractTar(stream, join(staging, 'diff'), {
        sys: this.sys,
        whiteouts: true,
        allowDevices: this.options.allowDevices ?? false,
        ...(this.options.ids ? { ids: this.options.ids } : {}),
      }).catch((error: unknown) => {
        throw inputError(`cannot unpack ${what}`, error);
      });
      if (diffId !== undefined && result.digest !== diffId) {
        throw invalidArgument(
          `diff id mismatch for ${what}: the image expects ${diffId}, the layer is ${result.digest}`,
        );
      }
      const chainId = chainIdOf(parent, result.digest);
      const record: LayerRecord = {
        chainId,
        diffId: result.digest,
        ...(parent === undefined ? {} : { parent }),
        size: result.size,
        blob: { digest: blob, size: blobSize, compression },
        diffSize: result.tarSize,
        createdAt: new Date().toISOString(),
      };
      await writeFile(join(staging, 'layer.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      await this.sys.syncfs(staging);
      const existing = await this.get(chainId);
      if (existing !== undefined) return existing;
      try {
        await rename(staging, this.layerDirectory(chainId));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Someone else finished the same layer first: theirs is as good as ours.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return await this.require(chainId);
        throw error;
      }
      await this.ensureShortLink(chainId);
      return record;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * Unpacks an uncompressed layer tar as it streams (a pull feeds it while downloading) into a
   * directory under tmp/, with the store's options (device nodes, id remapping), and checks its
   * diff id. Nothing is visible as a layer until `commit`; on failure nothing is left.
   */
  async stage(tar: AsyncIterable<Uint8Array>, request: { diffId?: Digest; what?: string }): Promise<StagedLayer> {
    const what = request.what ?? 'layer';
    const directory = join(this.temporaryDirectory, `layer-${randomBytes(8).toString('hex')}`);
    await ensureDirectory(directory, 0o711);
    try {
      const result = await extractTar(tar, join(directory, 'diff'), {
        sys: this.sys,
        whiteouts: true,
        allowDevices: this.options.allowDevices ?? false,
        ...(this.options.ids ? { ids: this.options.ids } : {}),
      }).catch((error: unknown) => {
        throw inputError(`cannot unpack ${what}`, error);
      });
      if (request.diffId !== undefined && result.digest !== request.diffId) {
        throw invalidArgument(
          `diff id mismatch for ${what}: the image expects ${request.diffId}, the layer is ${result.digest}`,
        );
      }
      return { diffId: result.digest, size: result.size, diffSize: result.tarSize, directory };
    } catch (error) {
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Starts writing what is staged so far to disk in the background (a pull calls it as each of
   * its layers is unpacked), so that the syncfs before the commit has little left to wait for.
   */
  flushStagingSoon(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = (async () => {
      do {
        this.flushAgain = false;
        // Only a head start: syncStaging's own syncfs is the one that counts.
        await this.sys.syncfs(this.temporaryDirectory).catch(() => undefined);
      } while (this.flushAgain);
    })().finally(() => {
      this.flushing = undefined;
    });
  }

  /** Flushes staged layers to disk at once (one syncfs for many commits). */
  async syncStaging(): Promise<void> {
    await this.flushing;
    await this.sys.syncfs(this.temporaryDirectory);
  }

  /**
   * Makes a staged layer the layer on `parent`. A layer with the same chain id that is there
   * already wins, and the staged copy is removed.
   */
  async commit(staged: StagedLayer, request: CommitRequest): Promise<LayerRecord> {
    try {
      if (request.parent !== undefined && (await this.get(request.parent)) === undefined) {
        throw notFound(`cannot add layer ${staged.diffId}: its parent layer ${request.parent} is missing`);
      }
      if ((await this.content.size(request.blob.digest)) !== request.blob.size) {
        throw notFound(`cannot add layer ${staged.diffId}: its blob ${request.blob.digest} is missing`);
      }
      const chainId = chainIdOf(request.parent, staged.diffId);
      const existing = await this.get(chainId);
      if (existing !== undefined) return existing;
      const record: LayerRecord = {
        chainId,
        diffId: staged.diffId,
        ...(request.parent === undefined ? {} : { parent: request.parent }),
        size: staged.size,
        blob: request.blob,
        diffSize: staged.diffSize,
        createdAt: new Date().toISOString(),
      };
      await writeFile(join(staged.directory, 'layer.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      if (request.synced !== true) await this.sys.syncfs(staged.directory);
      try {
        await rename(staged.directory, this.layerDirectory(chainId));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return await this.require(chainId);
        throw error;
      }
      await this.ensureShortLink(chainId);
      return record;
    } finally {
      await rm(staged.directory, { recursive: true, force: true });
    }
  }

  /** Removes a staged layer that will not be committed. */
  async discard(staged: StagedLayer): Promise<void> {
    await rm(staged.directory, { recursive: true, force: true });
  }

  private async verifyDiffId(blob: Digest, diffId: Digest, what: string): Promise<void> {
    const hash = createHash('sha256');
    try {
      const { stream } = await decompress(await this.content.openRead(blob), what);
      for await (const chunk of stream) hash.update(chunk as Buffer);
    } catch (error) {
      throw inputError(`cannot read ${what}`, error);
    }
    const actual: Digest = `sha256:${hash.digest('hex')}`;
    if (actual !== diffId)
      throw invalidArgument(`diff id mismatch for ${what}: the image expects ${diffId}, the layer is ${actual}`);
  }

  private async ensureShortLink(chainId: Digest): Promise<void> {
    const link = this.shortDiffPath(chainId);
    try {
      await symlink(join('..', 'layers', digestHex(chainId), 'diff'), link);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }

  /** Removes the layer (not its blob; the image store decides about blobs). */
  async delete(chainId: Digest): Promise<boolean> {
    const doomed = join(this.temporaryDirectory, `deleting-${randomBytes(8).toString('hex')}`);
    try {
      await rename(this.layerDirectory(chainId), doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    await rm(this.shortDiffPath(chainId), { force: true });
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  /** The layer as an uncompressed tar, exactly the bytes its diff id is the digest of. */
  async openDiffTar(chainId: Digest): Promise<{ record: LayerRecord; stream: AsyncIterable<Uint8Array> }> {
    const record = await this.require(chainId);
    const { stream } = await decompress(await this.content.openRead(record.blob.digest), `layer ${chainId}`);
    return { record, stream };
  }
}

function parseRecord(text: string): LayerRecord {
  const record = JSON.parse(text) as LayerRecord;
  if (!isDigest(record.chainId) || !isDigest(record.diffId)) throw new Error('malformed layer record');
  return record;
}
