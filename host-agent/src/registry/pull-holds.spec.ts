import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Digest } from '../snapshots/digest.js';
import { PullHolds } from './pull-holds.js';

const digest = (letter: string): Digest => `sha256:${letter.repeat(64)}`;
const [A, B, C] = ['a', 'b', 'c'].map(digest);

describe(PullHolds.name, () => {
  let directory: string;
  let discarded: Digest[][];
  const holds: PullHolds[] = [];
  const open = async (keepForMs = 60_000): Promise<PullHolds> => {
    const made = new PullHolds({
      directory,
      keepForMs,
      discardBlobs: (digests) => {
        discarded.push([...digests].sort());
        return Promise.resolve();
      },
    });
    holds.push(made);
    await made.open();
    return made;
  };

  beforeEach(async () => {
    directory = join(await mkdtemp(join(tmpdir(), 'skiff-holds-')), 'pulls');
    discarded = [];
  });
  afterEach(async () => {
    for (const made of holds.splice(0)) await made.close();
    await rm(join(directory, '..'), { recursive: true, force: true });
  });

  it('removes what a failed pull added only once no other pull holds it', async () => {
    const holdsNow = await open();
    const first = await holdsNow.hold([A, B]);
    const second = await holdsNow.hold([B]);
    first.added(A);
    first.added(B);
    await first.release(true);
    expect(discarded).toEqual([[A]]);
    await second.release(true);
    expect(discarded).toEqual([[A], [B]]);
  });

  it('removes nothing after a pull that succeeded, and leaves no file behind', async () => {
    const holdsNow = await open();
    const pull = await holdsNow.hold([A]);
    expect(await readdir(directory)).toHaveLength(1);
    pull.added(A);
    await pull.release(false);
    expect(discarded).toEqual([]);
    expect(await readdir(directory)).toEqual([]);
  });

  it('keeps the blobs of a dead pull for a pull run again, then removes them', async () => {
    const dead = await open();
    await dead.hold([A, B]); // never released: the agent died
    await dead.close();

    await open(60_000);
    expect(discarded).toEqual([]);
    expect(await readdir(directory)).toHaveLength(1);

    const [file] = await readdir(directory);
    const dayAgo = new Date(Date.now() - 120_000);
    await utimes(join(directory, file), dayAgo, dayAgo);
    await open(60_000);
    expect(discarded).toEqual([[A, B]]);
    expect(await readdir(directory)).toEqual([]);
  });

  it('removes them when their time is up while the agent runs', async () => {
    const dead = await open();
    await dead.hold([C]);
    await dead.close();
    await open(150);
    expect(discarded).toEqual([]);
    await expect.poll(() => discarded, { timeout: 2000 }).toEqual([[C]]);
    expect(await readdir(directory)).toEqual([]);
  });

  it('leaves a leftover a running pull holds to that pull, which removes it if it fails', async () => {
    const dead = await open();
    await dead.hold([A, B]);
    await dead.close();
    const holdsNow = await open(150);
    const running = await holdsNow.hold([B]);
    await expect.poll(() => discarded, { timeout: 2000 }).toEqual([[A]]);
    await running.release(true);
    expect(discarded).toEqual([[A], [B]]);
  });

  it('throws away a pull file that was being written when the agent died', async () => {
    const holdsNow = await open();
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, '.x.json.0123.tmp'), '{"dig');
    await holdsNow.close();
    await open();
    expect(await readdir(directory)).toEqual([]);
  });
});
