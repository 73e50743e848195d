import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p` that leaves `path` at exactly `mode`; missing parents are created with `mode` too,
 * existing ones are left alone. Hand-rolled because Node 20's recursive mkdir spins forever where
 * mkdir(2) answers ENOENT under a parent that exists, as under /proc.
 */
export async function ensureDirectory(path: string, mode: number): Promise<void> {
  await createMissing(path, mode);
  // mkdir applies the umask, and leaves an existing directory as it was.
  await chmod(path, mode);
}

async function createMissing(path: string, mode: number): Promise<void> {
  try {
    await mkdir(path, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || dirname(path) === path) throw error;
    await createMissing(dirname(path), mode);
    try {
      await mkdir(path, { mode });
    } catch (retryError) {
      if ((retryError as NodeJS.ErrnoException).code !== 'EEXIST') throw retryError;
    }
  }
}
