/**
 * Which repositories of which registries are known to hold a blob (pulled from there or pushed
 * there), so that a push to another repository of the same registry can ask for a
 * cross-repository mount instead of uploading the bytes again, as dockerd's v2 metadata does.
 * Kept in one small JSON file, bounded: a few repositories per blob, the most recent blobs.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { ensureDirectory } from '../state/ensure-directory.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { isDigest, type Digest } from '../snapshots/digest.js';

const MAX_SOURCES_PER_BLOB = 5;
const MAX_BLOBS = 10_000;

interface Source {
  registry: string;
  repository: string;
}

export class BlobSources {
  private sources = new Map<Digest, Source[]>();
  private loaded: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      try {
        const parsed = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, unknown>;
        for (const [digest, list] of Object.entries(parsed)) {
          if (!isDigest(digest) || !Array.isArray(list)) continue;
          const sources = list.filter(
            (item): item is Source =>
              typeof item === 'object' &&
              item !== null &&
              typeof (item as Source).registry === 'string' &&
              typeof (item as Source).repository === 'string',
          );
          this.sources.set(digest, sources.slice(0, MAX_SOURCES_PER_BLOB));
        }
      } catch {
        // Missing or unreadable: it is only a hint.
      }
    })();
    return this.loaded;
  }

  /** Repositories of `registry` other than `except` known to hold the blob, most recent first. */
  async candidates(digest: Digest, registry: string, except: string): Promise<string[]> {
    await this.load();
    return (this.sources.get(digest) ?? [])
      .filter((source) => source.registry === registry && source.repository !== except)
      .map((source) => source.repository);
  }

  async record(digests: readonly Digest[], registry: string, repository: string): Promise<void> {
    await this.load();
    for (const digest of digests) {
      const list = (this.sources.get(digest) ?? []).filter(
        (source) => source.registry !== registry || source.repository !== repository,
      );
      list.unshift({ registry, repository });
      this.sources.delete(digest);
      this.sources.set(digest, list.slice(0, MAX_SOURCES_PER_BLOB));
    }
    while (this.sources.size > MAX_BLOBS) {
      const oldest = this.sources.keys().next().value;
      if (oldest === undefined) break;
      this.sources.delete(oldest);
    }
    const snapshot = JSON.stringify(Object.fromEntries(this.sources));
    this.saving = this.saving
      .then(async () => {
        await ensureDirectory(dirname(this.path), 0o700);
        await writeFileAtomic(this.path, snapshot, { mode: 0o600 });
      })
      .catch(() => undefined);
    await this.saving;
  }
}
