/**
 * `docker diff` from an overlay upper directory: every path the container added (kind 1),
 * changed (kind 0) or deleted (kind 2, from whiteouts), parents before children. Follows
 * dockerd's overlay rules so the output matches: a directory that was only copied up with the
 * same mode, size and time is not a change, the parent of an added or deleted path is, and an
 * opaque directory that hides a lower one counts as deleted (its new content as added).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { FILE_TYPE, isWhiteoutStat, overlayOpaqueXattr, type NodeStat, type SysCalls } from '../sys/sys-calls.js';

export const CHANGE_KIND = { modified: 0, added: 1, deleted: 2 } as const;

/** One item of GET /containers/{id}/changes. */
export interface FilesystemChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

export async function upperChanges(
  upperDir: string,
  lowerDirsTopFirst: readonly string[],
  sys: SysCalls,
  /** Layers written for an overlay mounted with `userxattr` (the engine remaps user namespaces). */
  userxattr = false,
): Promise<FilesystemChange[]> {
  const opaqueXattr = overlayOpaqueXattr(userxattr);
  const isOpaque = (path: string): boolean => sys.lgetxattr(path, opaqueXattr)?.toString() === 'y';
  const changes: FilesystemChange[] = [];
  const recorded = new Set<string>();
  const record = (path: string, kind: FilesystemChange['Kind']): void => {
    if (recorded.has(path)) return;
    recorded.add(path);
    changes.push({ Path: path, Kind: kind });
  };
  const recordParent = (path: string): void => {
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (parent !== '') record(parent, CHANGE_KIND.modified);
  };

  async function walk(relative: string): Promise<void> {
    const names = (await readdir(join(upperDir, relative))).sort();
    for (const name of names) {
      const path = `${relative}/${name}`;
      const stat = sys.lstat(join(upperDir, path));
      const isDirectory = (stat.mode & FILE_TYPE.mask) === FILE_TYPE.directory;
      const below = lowerStat(lowerDirsTopFirst, path, sys, isOpaque);
      if (isWhiteoutStat(stat)) {
        recordParent(path);
        record(path, CHANGE_KIND.deleted);
      } else if (isDirectory && below !== undefined && isOpaque(join(upperDir, path))) {
        recordParent(path);
        record(path, CHANGE_KIND.deleted);
      } else if (below === undefined) {
        recordParent(path);
        record(path, CHANGE_KIND.added);
      } else if (!(isDirectory && sameDirectory(stat, below))) {
        record(path, CHANGE_KIND.modified);
      }
      if (isDirectory) await walk(path);
    }
  }

  await walk('');
  return changes;
}

function sameDirectory(upper: NodeStat, lower: NodeStat): boolean {
  return (
    (lower.mode & FILE_TYPE.mask) === FILE_TYPE.directory &&
    upper.mode === lower.mode &&
    upper.size === lower.size &&
    Math.floor(upper.mtimeMs) === Math.floor(lower.mtimeMs)
  );
}

/**
 * What the layers below show at `path` (undefined if nothing): the topmost layer that has it,
 * unless a whiteout or an opaque directory in a higher layer hides it.
 */
function lowerStat(
  lowerDirsTopFirst: readonly string[],
  path: string,
  sys: SysCalls,
  isOpaque: (path: string) => boolean,
): NodeStat | undefined {
  const components = path.split('/').filter(Boolean);
  for (const lower of lowerDirsTopFirst) {
    let hidden = false;
    // A whiteout or an opaque directory on the way hides the layers below this one.
    for (let depth = 1; depth <= components.length; depth += 1) {
      const stat = tryLstat(join(lower, ...components.slice(0, depth)), sys);
      if (stat === undefined) break;
      if (isWhiteoutStat(stat)) return undefined;
      if (depth === components.length) return stat;
      if ((stat.mode & FILE_TYPE.mask) !== FILE_TYPE.directory) return undefined;
      if (isOpaque(join(lower, ...components.slice(0, depth)))) hidden = true;
    }
    if (hidden) return undefined;
  }
  return undefined;
}

function tryLstat(path: string, sys: SysCalls): NodeStat | undefined {
  try {
    return sys.lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}
