import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A file of a build context: its content, or a symlink to `symlink`. */
export type ContextFile = string | Buffer | { symlink: string };

/** A build context directory for `docker build`, written from a map of relative paths. */
export class BuildContextDir {
  private constructor(readonly path: string) {}

  static async write(files: Record<string, ContextFile>): Promise<BuildContextDir> {
    const context = new BuildContextDir(await mkdtemp(join(tmpdir(), 'skiff-build-context-')));
    await context.add(files);
    return context;
  }

  async add(files: Record<string, ContextFile>): Promise<void> {
    for (const [name, file] of Object.entries(files)) {
      const path = join(this.path, name);
      await mkdir(dirname(path), { recursive: true });
      if (typeof file === 'object' && !Buffer.isBuffer(file)) await symlink(file.symlink, path);
      else await writeFile(path, file);
    }
  }

  async remove(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
  }
}
