import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeFileSystem, writeFileAtomic, type AtomicFileSystem } from './atomic-file.js';

/** Wraps the real file system, records each step and can fail one of them. */
function recordingFileSystem(failAt?: string): { fileSystem: AtomicFileSystem; steps: string[] } {
  const steps: string[] = [];
  const step = (name: string): Promise<void> => {
    steps.push(name);
    return name === failAt ? Promise.reject(new Error(`injected failure at ${name}`)) : Promise.resolve();
  };
  const fileSystem: AtomicFileSystem = {
    async open(path, flags, mode) {
      await step(`open ${flags}`);
      const file = await nodeFileSystem.open(path, flags, mode);
      return {
        writeFile: async (data) => {
          await step('write');
          await file.writeFile(data);
        },
        chmod: async (fileMode) => {
          await step('chmod');
          await file.chmod(fileMode);
        },
        sync: async () => {
          await step(`sync ${flags}`);
          await file.sync();
        },
        close: async () => {
          steps.push(`close ${flags}`);
          await file.close();
        },
      };
    },
    async rename(from, to) {
      await step('rename');
      await nodeFileSystem.rename(from, to);
    },
    rm: (path, options) => nodeFileSystem.rm(path, options),
  };
  return { fileSystem, steps };
}

describe(writeFileAtomic.name, () => {
  let directory: string;
  let target: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'skiff-atomic-'));
    target = join(directory, 'state.json');
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('writes the content with the requested mode', async () => {
    await writeFileAtomic(target, 'new', { mode: 0o600 });

    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
  });

  it('replaces an existing file, including a looser mode', async () => {
    await writeFile(target, 'old', { mode: 0o644 });

    await writeFileAtomic(target, 'new', { mode: 0o600 });

    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
  });

  it('flushes the data to disk before renaming it over the target, then flushes the directory', async () => {
    const { fileSystem, steps } = recordingFileSystem();

    await writeFileAtomic(target, 'new', { mode: 0o600 }, fileSystem);

    expect(steps).toEqual([
      'open wx',
      'chmod',
      'write',
      'sync wx',
      'close wx',
      'rename',
      'open r',
      'sync r',
      'close r',
    ]);
  });

  it.each(['write', 'sync wx', 'rename'])('keeps the old content and no temporary file when %s fails', async (step) => {
    await writeFile(target, 'old');
    const { fileSystem } = recordingFileSystem(step);

    await expect(writeFileAtomic(target, 'new', { mode: 0o600 }, fileSystem)).rejects.toThrow(
      `injected failure at ${step}`,
    );

    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await readdir(directory)).toEqual(['state.json']);
  });

  it('leaves no temporary file behind after success', async () => {
    await writeFileAtomic(target, 'one', { mode: 0o600 });
    await writeFileAtomic(target, 'two', { mode: 0o600 });

    expect(await readdir(directory)).toEqual(['state.json']);
  });
});
