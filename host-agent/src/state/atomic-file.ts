import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The few file operations an atomic write needs; a test passes a recording or failing fake. */
export interface AtomicFileSystem {
  open(path: string, flags: string, mode?: number): Promise<WritableFile>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: true }): Promise<void>;
}

export interface WritableFile {
  writeFile(data: string | Uint8Array): Promise<void>;
  chmod(mode: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export const nodeFileSystem: AtomicFileSystem = {
  open: (path, flags, mode) => fs.open(path, flags, mode),
  rename: (from, to) => fs.rename(from, to),
  rm: (path, options) => fs.rm(path, options),
};

export interface AtomicWriteOptions {
  mode: number;
}

/**
 * Replaces `path` so that a crash leaves either the old or the new content, never a mix:
 * write a temporary file next to it, fsync it, rename it over the target, fsync the directory
 * (the rename itself is only durable once the directory is).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  { mode }: AtomicWriteOptions,
  fileSystem: AtomicFileSystem = nodeFileSystem,
): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await fileSystem.open(temporary, 'wx', mode);
    try {
      // open(2) applies the umask to `mode`; chmod does not.
      await file.chmod(mode);
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await fileSystem.rename(temporary, path);
  } catch (error) {
    await fileSystem.rm(temporary, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path), fileSystem);
}

async function syncDirectory(directory: string, fileSystem: AtomicFileSystem): Promise<void> {
  const handle = await fileSystem.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Atomic but not durable: a temporary file renamed over `path`, no fsync. A crash of this process
 * leaves the old or the new content; a crash of the host may leave the old one.
 */
export async function replaceFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temporary, data, { mode, flag: 'wx' });
    await fs.rename(temporary, path);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}
