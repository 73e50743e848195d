/**
 * The build cache: which image a build step made, by the step's key (the image it ran on, the
 * instruction as recorded in the history, and for COPY and ADD the hash of the files copied).
 * A later build whose step has the same key takes that image instead of running the step again.
 * The images themselves live in the image store (each step is an image, as with Docker's classic
 * builder); this index only points at them, and a pointer whose image is gone is ignored.
 *
 *   <root>/build/cache.json    { "entries": { "<key hex>": { "image": "sha256:…", "createdAt": "…" } } }
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { writeFileAtomic } from '../state/atomic-file.js';
import { isDigest, type Digest } from '../snapshots/digest.js';

export interface CacheEntry {
  image: Digest;
  createdAt: string;
}

export interface StepKey {
  /** The image the step runs on; undefined right after `FROM scratch`. */
  parent: Digest | undefined;
  /** The history line of the step (`/bin/sh -c #(nop)  ENV A=b`, `|1 X=y /bin/sh -c make`). */
  createdBy: string;
  /** For COPY and ADD: the hash of what is copied. */
  contentHash?: string;
}

export function stepKey(step: StepKey): string {
  return createHash('sha256')
    .update(JSON.stringify([step.parent ?? 'scratch', step.createdBy, step.contentHash ?? '']))
    .digest('hex');
}

export class BuildCache {
  private readonly path: string;
  private entries = new Map<string, CacheEntry>();
  /** Writes run one after another, each with the whole index. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(directory: string) {
    this.path = join(directory, 'cache.json');
  }

  async load(): Promise<void> {
    try {
      const file = JSON.parse(await readFile(this.path, 'utf8')) as { entries?: Record<string, CacheEntry> };
      this.entries = new Map(
        Object.entries(file.entries ?? {}).filter(
          ([key, entry]) => /^[a-f0-9]{64}$/.test(key) && isDigest(entry.image),
        ),
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  get(key: string): Digest | undefined {
    return this.entries.get(key)?.image;
  }

  list(): [string, CacheEntry][] {
    return [...this.entries];
  }

  async put(key: string, image: Digest): Promise<void> {
    this.entries.set(key, { image, createdAt: new Date().toISOString() });
    await this.save();
  }

  /** Forgets the given keys (all when none are given); returns what was forgotten. */
  async remove(keys?: readonly string[]): Promise<[string, CacheEntry][]> {
    const doomed = keys === undefined ? [...this.entries] : [...this.entries].filter(([key]) => keys.includes(key));
    for (const [key] of doomed) this.entries.delete(key);
    await this.save();
    return doomed;
  }

  private async save(): Promise<void> {
    const run = this.writing.then(() =>
      writeFileAtomic(this.path, `${JSON.stringify({ entries: Object.fromEntries(this.entries) }, null, 2)}\n`, {
        mode: 0o600,
      }),
    );
    this.writing = run.catch(() => undefined);
    await run;
  }
}
