import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDirectory } from './ensure-directory.js';

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe(ensureDirectory.name, () => {
  let base: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'skiff-dir-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('creates missing parents and the directory with the mode', async () => {
    const target = join(base, 'a', 'b', 'plane');

    await ensureDirectory(target, 0o700);

    expect(await modeOf(target)).toBe(0o700);
    expect(await modeOf(join(base, 'a'))).toBe(0o700);
  });

  it('tightens an existing directory but leaves its existing parent alone', async () => {
    const parent = join(base, 'root');
    const target = join(parent, 'plane');
    await mkdir(target, { recursive: true, mode: 0o755 });

    await ensureDirectory(target, 0o700);

    expect(await modeOf(target)).toBe(0o700);
    expect(await modeOf(parent)).toBe(0o755);
  });

  it('fails instead of spinning where mkdir answers ENOENT under an existing parent', async () => {
    await expect(ensureDirectory('/proc/skiff-test/plane', 0o700)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
