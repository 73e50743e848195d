/**
 * The container root filesystem as an overlay of image layers plus a copy-on-write upper
 * directory per container. `plan` returns a description (what skiff-shim's overlay rootfs
 * wants) and mounts nothing; `prepare` creates the directories the plan names; `mount` is for
 * the agent's own use (export, `docker diff` needs no mount).
 *
 *   <root>/containers/<id>/upper    the container's changes
 *   <root>/containers/<id>/work     overlayfs's work directory
 *   <root>/containers/<id>/merged   where the rootfs is mounted
 */
import { randomBytes } from 'node:crypto';
import { rmdirSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { invalidArgument } from '../engine-error.js';
import { ensureDirectory } from '../state/ensure-directory.js';
import type { SysCalls } from '../sys/sys-calls.js';
import type { IdMap } from '../userns/id-map.js';
import type { Digest } from './digest.js';
import type { LayerStore } from './layer-store.js';
import { packDirectory } from './tar-packer.js';
import { upperChanges, type FilesystemChange } from './upper-changes.js';

/** The same shape as skiff-shim's overlay rootfs (host-agent/src/shim/shim-plan.ts). */
export interface OverlayRootfs {
  kind: 'overlay';
  /** An empty directory the overlay is mounted on. */
  target: string;
  /** Top layer first, as overlayfs wants them. */
  lowerDirs: string[];
  upperDir: string;
  workDir: string;
}

export interface SnapshotPlan {
  containerId: string;
  rootfs: OverlayRootfs;
  /** The overlay mount options for these directories. */
  mountOptions: string;
  /** Directories to create, in order, with their modes. */
  directories: { path: string; mode: number }[];
}

/** Linux refuses mount options longer than a page. */
const MAX_MOUNT_DATA = 4095;
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export class OverlaySnapshotter {
  readonly containersDirectory: string;
  /** The lower directory of a container whose image has no layers (overlayfs needs one). */
  readonly emptyLowerDirectory: string;

  constructor(
    readonly root: string,
    private readonly layers: LayerStore,
    private readonly sys: SysCalls,
    /**
     * The engine's user namespace remapping. Containers then mount their overlay inside their
     * user namespace, where overlayfs reads `user.overlay.*` xattrs (`userxattr`): every overlay
     * of these layers is mounted so, and a container's own directories belong to its root.
     */
    readonly ids?: IdMap,
  ) {
    this.containersDirectory = join(root, 'containers');
    this.emptyLowerDirectory = join(root, 'empty-layer');
  }

  async init(): Promise<void> {
    await ensureDirectory(this.containersDirectory, 0o711);
    await ensureDirectory(this.emptyLowerDirectory, 0o755);
  }

  containerDirectory(containerId: string): string {
    if (!CONTAINER_ID.test(containerId)) throw invalidArgument(`invalid container id for a snapshot: ${containerId}`);
    return join(this.containersDirectory, containerId);
  }

  /**
   * The rootfs of a container on the layers `chainIds` (bottom first, as in the image config).
   * Uses the layers' short links when the full paths would not fit in one mount option string.
   */
  plan(containerId: string, chainIds: readonly Digest[]): SnapshotPlan {
    const directory = this.containerDirectory(containerId);
    const upperDir = join(directory, 'upper');
    const workDir = join(directory, 'work');
    const target = join(directory, 'merged');
    const topFirst = [...chainIds].reverse();
    let lowerDirs =
      topFirst.length === 0
        ? [this.emptyLowerDirectory]
        : topFirst.map((chainId) => this.layers.diffDirectory(chainId));
    const userxattr = this.ids !== undefined;
    let mountOptions = overlayOptions(lowerDirs, upperDir, workDir, userxattr);
    if (mountOptions.length > MAX_MOUNT_DATA) {
      lowerDirs = topFirst.map((chainId) => this.layers.shortDiffPath(chainId));
      mountOptions = overlayOptions(lowerDirs, upperDir, workDir, userxattr);
      if (mountOptions.length > MAX_MOUNT_DATA) {
        throw invalidArgument(
          `cannot make the rootfs of container ${containerId}: ${chainIds.length} layers are too many for one overlay mount`,
        );
      }
    }
    return {
      containerId,
      rootfs: { kind: 'overlay', target, lowerDirs, upperDir, workDir },
      mountOptions,
      directories: [
        { path: directory, mode: 0o711 },
        { path: upperDir, mode: 0o755 },
        { path: workDir, mode: 0o700 },
        { path: target, mode: 0o755 },
      ],
    };
  }

  /** Creates the directories of the plan; safe to repeat. */
  async prepare(plan: SnapshotPlan): Promise<void> {
    for (const { path, mode } of plan.directories) await ensureDirectory(path, mode);
    // The container's root writes its changes, from inside its user namespace.
    if (this.ids) {
      for (const path of [plan.rootfs.upperDir, plan.rootfs.workDir]) {
        this.sys.lchown(path, this.ids.root.uid, this.ids.root.gid);
      }
    }
  }

  /** Mounts the rootfs on its target in the agent's own mount namespace. */
  mount(plan: SnapshotPlan): void {
    this.sys.mount({ source: 'overlay', target: plan.rootfs.target, fstype: 'overlay', data: plan.mountOptions });
  }

  unmount(plan: SnapshotPlan): void {
    this.sys.umount2(plan.rootfs.target, ['detach']);
  }

  /** Detaches whatever is mounted on `target` (a leftover of an agent that was killed). */
  detach(target: string): void {
    this.sys.umount2(target, ['detach']);
  }

  /**
   * `docker diff`: what the container changed, from its upper directory alone (no mount).
   */
  async changes(plan: SnapshotPlan): Promise<FilesystemChange[]> {
    return upperChanges(plan.rootfs.upperDir, plan.rootfs.lowerDirs, this.sys, this.ids !== undefined);
  }

  /**
   * `docker export`: the merged rootfs as a tar. Mounts a read-only overlay with the upper
   * directory as its top lower layer (no work directory, so it never conflicts with the
   * container's own mount, running or not) and unmounts it when the stream ends.
   */
  async exportTar(plan: SnapshotPlan): Promise<Readable> {
    const target = join(this.containerDirectory(plan.containerId), `export-${randomBytes(4).toString('hex')}`);
    await mkdir(target, { mode: 0o700 });
    const lowerDirs = [plan.rootfs.upperDir, ...plan.rootfs.lowerDirs];
    try {
      this.sys.mount({
        source: 'overlay',
        target,
        fstype: 'overlay',
        flags: ['rdonly'],
        data: `lowerdir=${lowerDirs.join(':')}${this.ids ? ',userxattr' : ''}`,
      });
    } catch (error) {
      await rm(target, { recursive: true, force: true });
      throw error;
    }
    const stream = packDirectory(target, { sys: this.sys, mode: 'plain', ...(this.ids ? { ids: this.ids } : {}) });
    let cleaned = false;
    const cleanup = (): void => {
      if (cleaned) return;
      cleaned = true;
      try {
        this.sys.umount2(target, ['detach']);
        // Unmounted, the directory is empty: removed at once, so it is gone before the reader sees the end.
        rmdirSync(target);
      } catch {
        // Still mounted (nothing is deleted through a mount) or already gone: the container's removal sees to it.
      }
    };
    stream.once('end', cleanup);
    stream.once('close', cleanup);
    return stream;
  }

  /** Removes the container's directories (the caller unmounts first if it mounted). */
  async remove(containerId: string): Promise<void> {
    const directory = this.containerDirectory(containerId);
    const doomed = join(this.containersDirectory, `.deleting-${containerId}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(directory, doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await rm(doomed, { recursive: true, force: true });
  }
}

/** With `userxattr`, overlayfs keeps its marks in `user.overlay.*` (required in a user namespace). */
export function overlayOptions(
  lowerDirs: readonly string[],
  upperDir: string,
  workDir: string,
  userxattr = false,
): string {
  for (const dir of [...lowerDirs, upperDir, workDir]) {
    // overlayfs splits options at ',' and lowerdir at ':'; an escaped path is possible but
    // no path the agent makes contains either.
    if (/[,:]/.test(dir)) throw invalidArgument(`overlay directory ${dir} contains ',' or ':'`);
  }
  return `lowerdir=${lowerDirs.join(':')},upperdir=${upperDir},workdir=${workDir}${userxattr ? ',userxattr' : ''}`;
}
