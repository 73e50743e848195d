/**
 * Root filesystems the builder mounts in the agent's own mount namespace, each in a private
 * directory of one build:
 * - a writable one for COPY, ADD and WORKDIR: the image's layers under a fresh upper directory,
 *   whose contents become the step's layer (`packDirectory(upper, 'overlay-diff')`);
 * - a read-only one for `COPY --from`: the source image's layers only.
 * Nothing is mounted outside the build's directory, and `unmount` is safe to call twice.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { LayerStore } from '../snapshots/layer-store.js';
import { overlayOptions } from '../snapshots/overlay-snapshotter.js';
import type { Digest } from '../snapshots/digest.js';
import type { SysCalls } from '../sys/sys-calls.js';
import type { IdMap } from '../userns/id-map.js';

const MAX_MOUNT_DATA = 4095;

export interface MountedRootfs {
  /** Where the root filesystem is seen. */
  root: string;
  /** The writable upper directory (absent for a read-only mount). */
  upper?: string;
  unmount(): void;
}

export interface RootfsMounter {
  layers: LayerStore;
  sys: SysCalls;
  /** An empty directory: the lower layer of an image without layers. */
  emptyDirectory: string;
  ids?: IdMap;
}

/** Mounts the layers `chainIds` (bottom first) at `<directory>/merged`, writable through `<directory>/upper`. */
export async function mountWritable(
  mounter: RootfsMounter,
  directory: string,
  chainIds: readonly Digest[],
): Promise<MountedRootfs> {
  const upper = join(directory, 'upper');
  const work = join(directory, 'work');
  const root = join(directory, 'merged');
  for (const [path, mode] of [
    [directory, 0o711],
    [upper, 0o755],
    [work, 0o700],
    [root, 0o755],
  ] as const) {
    await mkdir(path, { mode });
  }
  if (mounter.ids) {
    for (const path of [upper, work]) mounter.sys.lchown(path, mounter.ids.root.uid, mounter.ids.root.gid);
  }
  const data = fitting(mounter, chainIds, (lowers) => overlayOptions(lowers, upper, work, mounter.ids !== undefined));
  mounter.sys.mount({ source: 'overlay', target: root, fstype: 'overlay', data });
  return { root, upper, unmount: once(() => mounter.sys.umount2(root, ['detach'])) };
}

/** Mounts the layers read-only at `<directory>/rootfs`. */
export async function mountReadOnly(
  mounter: RootfsMounter,
  directory: string,
  chainIds: readonly Digest[],
): Promise<MountedRootfs> {
  const root = join(directory, 'rootfs');
  await mkdir(directory, { recursive: true, mode: 0o711 });
  await mkdir(root, { mode: 0o755 });
  // overlayfs wants two lower directories when there is no upper one: the empty one is the second.
  const data = fitting(
    mounter,
    chainIds,
    (lowers) => `lowerdir=${[...lowers, mounter.emptyDirectory].join(':')}${mounter.ids ? ',userxattr' : ''}`,
  );
  mounter.sys.mount({ source: 'overlay', target: root, fstype: 'overlay', flags: ['rdonly'], data });
  return { root, unmount: once(() => mounter.sys.umount2(root, ['detach'])) };
}

/** The mount options with full layer paths, or with the short links when those do not fit. */
function fitting(mounter: RootfsMounter, chainIds: readonly Digest[], options: (lowers: string[]) => string): string {
  const topFirst = [...chainIds].reverse();
  if (topFirst.length === 0) return options([mounter.emptyDirectory]);
  const full = options(topFirst.map((chainId) => mounter.layers.diffDirectory(chainId)));
  if (full.length <= MAX_MOUNT_DATA) return full;
  return options(topFirst.map((chainId) => mounter.layers.shortDiffPath(chainId)));
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
