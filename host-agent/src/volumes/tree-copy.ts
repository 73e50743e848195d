import type { BigIntStats } from 'node:fs';
import {
  chmod,
  constants,
  copyFile,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  symlink,
} from 'node:fs/promises';
import { join } from 'node:path';

/** Mode bits (with setuid, setgid, sticky) and owner of a directory. */
export interface DirectoryAttributes {
  mode: number;
  uid: number;
  gid: number;
}

export interface TreeCopyReport {
  /** Entries copied (a hard link counts once per name). */
  copied: number;
  /** FIFOs, sockets and device nodes, relative to the source: Node cannot make them without mknod(2). */
  skipped: string[];
}

/** Copies what is under `source` into the existing directory `target`; the store injects a failing one in tests. */
export type TreeCopier = (source: string, target: string) => Promise<TreeCopyReport>;

/**
 * Copies the entries under `source` into `target`, keeping modes (setuid included), owners,
 * timestamps, symbolic links as links and hard links as links. Nothing is ever followed: every
 * entry is lstat'ed, so a link pointing out of the source (`etc -> /etc`, `up -> ../../..`) is
 * copied as that link. Each file and directory is fsync'ed, because the caller renames the copy
 * into place and relies on it being on disk when the rename is. Extended attributes are not copied.
 */
export const copyTreeContents: TreeCopier = async (source, target) => {
  const report: TreeCopyReport = { copied: 0, skipped: [] };
  await copyChildren(source, target, '', new Map(), report);
  return report;
};

/** The mode and owner of `path` itself (not followed), which a volume's root takes from the image's directory. */
export async function directoryAttributes(path: string): Promise<DirectoryAttributes> {
  const stats = await lstat(path);
  return { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
}

export async function applyDirectoryAttributes(path: string, { mode, uid, gid }: DirectoryAttributes): Promise<void> {
  await lchown(path, uid, gid);
  // chown(2) clears setuid and setgid, so the mode goes second.
  await chmod(path, mode);
}

/** fsync(2) on a file, or on a directory: a rename or a new entry in one is only durable once it is synced. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function copyChildren(
  sourceDirectory: string,
  targetDirectory: string,
  relative: string,
  hardLinks: Map<string, string>,
  report: TreeCopyReport,
): Promise<void> {
  const names = (await readdir(sourceDirectory)).sort();
  for (const name of names) {
    const from = join(sourceDirectory, name);
    const to = join(targetDirectory, name);
    const path = relative === '' ? name : `${relative}/${name}`;
    const stats = await lstat(from, { bigint: true });

    if (stats.isDirectory()) {
      await mkdir(to, { mode: 0o700 });
      await copyChildren(from, to, path, hardLinks, report);
      await applyAttributes(to, stats);
      await fsyncPath(to);
      report.copied += 1;
      continue;
    }
    if (!stats.isFile() && !stats.isSymbolicLink()) {
      report.skipped.push(path);
      continue;
    }

    // A file with several names is copied once; the other names become links to the copy.
    const inode = `${stats.dev}:${stats.ino}`;
    const firstCopy = stats.nlink > 1n ? hardLinks.get(inode) : undefined;
    if (firstCopy !== undefined) {
      await link(firstCopy, to);
    } else if (stats.isSymbolicLink()) {
      await symlink(await readlink(from), to);
      await lchown(to, Number(stats.uid), Number(stats.gid));
      await lutimes(to, seconds(stats.atimeNs), seconds(stats.mtimeNs));
    } else {
      await copyFile(from, to, constants.COPYFILE_EXCL);
      await applyAttributes(to, stats);
      await fsyncPath(to);
    }
    if (stats.nlink > 1n && firstCopy === undefined) hardLinks.set(inode, to);
    report.copied += 1;
  }
}

async function applyAttributes(path: string, stats: BigIntStats): Promise<void> {
  await applyDirectoryAttributes(path, {
    mode: Number(stats.mode & 0o7777n),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
  });
  await lutimes(path, seconds(stats.atimeNs), seconds(stats.mtimeNs));
}

const seconds = (nanoseconds: bigint): number => Number(nanoseconds) / 1e9;
