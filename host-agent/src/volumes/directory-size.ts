import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The bytes a volume holds, as Docker counts them for `docker system df`: the apparent size of
 * every entry that is not a directory (a symlink counts its target's length), each inode once
 * however many hard links it has. Symlinks are never followed. A missing path has size 0.
 */
export async function directorySize(path: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0n;
  const pending = [path];
  for (let directory = pending.pop(); directory !== undefined; directory = pending.pop()) {
    let names: string[];
    try {
      names = await readdir(directory);
    } catch (error) {
      // The root missing is an empty volume; an entry vanishing mid-walk is a container at work.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const name of names) {
      const entry = join(directory, name);
      let stats;
      try {
        stats = await lstat(entry, { bigint: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (stats.isDirectory()) {
        pending.push(entry);
        continue;
      }
      if (stats.nlink > 1n) {
        const inode = `${stats.dev}:${stats.ino}`;
        if (seen.has(inode)) continue;
        seen.add(inode);
      }
      total += stats.size;
    }
  }
  return Number(total);
}
