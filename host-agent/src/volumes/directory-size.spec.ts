import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { directorySize } from './directory-size.js';

describe(directorySize.name, () => {
  let base: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'skiff-size-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('sums the sizes of files in nested directories', async () => {
    await mkdir(join(base, 'a', 'b'), { recursive: true });
    await writeFile(join(base, 'one'), Buffer.alloc(1000));
    await writeFile(join(base, 'a', 'b', 'two'), Buffer.alloc(234));

    expect(await directorySize(base)).toBe(1234);
  });

  it('counts a hard-linked file once', async () => {
    await writeFile(join(base, 'one'), Buffer.alloc(500));
    await link(join(base, 'one'), join(base, 'again'));

    expect(await directorySize(base)).toBe(500);
  });

  it('counts a symlink as its own length, without following it', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'skiff-size-outside-'));
    try {
      await writeFile(join(outside, 'big'), Buffer.alloc(10_000));
      await symlink(outside, join(base, 'out'));

      expect(await directorySize(base)).toBe(outside.length);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('is 0 for a missing directory', async () => {
    expect(await directorySize(join(base, 'missing'))).toBe(0);
  });
});
