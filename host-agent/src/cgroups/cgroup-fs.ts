import { writeSync } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';

/**
 * The only way the cgroup code touches the file system. cgroupfs is a file system of its own
 * kind: mkdir fills a directory with control files, rmdir removes a directory that still shows
 * them, and a write is a request the kernel may refuse with an errno. The real one is
 * `nodeCgroupFs`; unit tests use `imitationCgroupFs` (imitation-cgroup-tree.ts), which behaves
 * the same way inside a temporary folder.
 */
export interface CgroupFs {
  readFile(path: string): Promise<string>;
  /** One write(2) of the whole value: cgroupfs takes each write as one request. */
  writeFile(path: string, value: string): Promise<void>;
  /**
   * One write(2) per value, in order, through one open file (e.g. a dozen devices.allow rules).
   * A failure is a WriteEachError naming the value that failed. Optional: writeFile each otherwise.
   */
  writeEach?(path: string, values: readonly string[]): Promise<void>;
  /** Not recursive; fails with EEXIST when the directory is there. */
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Names of the subdirectories (child cgroups) of a cgroup directory. */
  subdirectories(path: string): Promise<string[]>;
  /** Names of the entries (control files and child cgroups) of a directory. */
  entries(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
}

export const nodeCgroupFs: CgroupFs = {
  readFile: (path) => readFile(path, 'utf8'),
  writeFile: (path, value) => writeFile(path, value),
  writeEach: async (path, values) => {
    const file = await open(path, 'w');
    try {
      for (const [index, value] of values.entries()) {
        try {
          // Synchronous: each is a request the kernel answers at once (no disk behind cgroupfs),
          // a few microseconds against a trip through the thread pool; a dozen devices rules sat
          // one after another on every container start.
          writeSync(file.fd, value);
        } catch (error) {
          throw new WriteEachError(index, error);
        }
      }
    } finally {
      await file.close();
    }
  },
  mkdir: async (path) => {
    await mkdir(path);
  },
  rmdir: (path) => rmdir(path),
  subdirectories: async (path) =>
    (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name),
  entries: (path) => readdir(path),
  exists: async (path) => {
    try {
      await access(path);
      return true;
    } catch {
      return false;
    }
  },
};

/** Which value of a writeEach the kernel refused, with its error. */
export class WriteEachError extends Error {
  constructor(
    readonly index: number,
    readonly error: unknown,
  ) {
    super(error instanceof Error ? error.message : String(error));
    this.name = 'WriteEachError';
  }
}

export function errnoCode(error: unknown): string | undefined {
  if (error instanceof WriteEachError) return errnoCode(error.error);
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** The file's text, or undefined when it does not exist (a controller or kernel feature is absent). */
export async function readOptional(fs: CgroupFs, path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP') return undefined;
    throw error;
  }
}
