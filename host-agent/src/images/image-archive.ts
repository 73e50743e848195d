/**
 * Reads an image archive (`docker save` output or an OCI image layout tar, plain or gzipped)
 * straight into the content store: every regular file becomes a blob, hashed as it streams, so
 * a layer is written once and never held in memory. Symlinks and hard links (older
 * `docker save` archives link shared layers) are remembered by name. What the files mean is
 * decided afterwards by the load planner.
 */
import { posix } from 'node:path';
import tar from 'tar-stream';

import { decompress } from '../snapshots/compression.js';
import { inputError } from '../snapshots/input-error.js';
import type { ContentStore } from '../snapshots/content-store.js';
import type { Digest } from '../snapshots/digest.js';
import { entryPathComponents, refuseEntry } from '../snapshots/tar-entry-plan.js';

export interface ArchiveFile {
  digest: Digest;
  size: number;
  /** True when the content store did not have this blob before. */
  created: boolean;
}

const MAX_LINK_HOPS = 16;

export class ImageArchive {
  constructor(
    readonly files: ReadonlyMap<string, ArchiveFile>,
    /** name → the name it links to (resolved to a path inside the archive). */
    readonly links: ReadonlyMap<string, string>,
  ) {}

  /** The file at `name` (normalised, links followed), or undefined. */
  file(name: string): ArchiveFile | undefined {
    let current = normalise(name);
    for (let hop = 0; current !== undefined && hop <= MAX_LINK_HOPS; hop += 1) {
      const file = this.files.get(current);
      if (file !== undefined) return file;
      current = this.links.get(current);
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.file(name) !== undefined;
  }

  /** Blobs this archive added to the store; the caller removes those no image ended up using. */
  createdBlobs(): Digest[] {
    return [...new Set([...this.files.values()].filter((file) => file.created).map((file) => file.digest))];
  }
}

function normalise(name: string): string | undefined {
  try {
    return entryPathComponents(name).join('/');
  } catch {
    return undefined;
  }
}

/**
 * Streams `source` into the content store. On failure the blobs already written are removed
 * again (those that were new), and the error names the archive entry.
 */
export async function readImageArchive(
  source: AsyncIterable<Uint8Array>,
  content: ContentStore,
): Promise<ImageArchive> {
  const files = new Map<string, ArchiveFile>();
  const links = new Map<string, string>();
  const extract = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  const { stream } = await decompress(source, 'the image archive');
  const feeding = (async () => {
    try {
      for await (const chunk of stream) {
        if (extract.destroyed) return;
        if (!extract.write(chunk as Buffer)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              extract.off('drain', done);
              extract.off('close', done);
              resolve();
            };
            extract.on('drain', done);
            extract.on('close', done);
          });
        }
      }
      extract.end(null);
    } catch (error) {
      extract.destroy(error as Error);
      throw error;
    }
  })();
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const type = header.type ?? 'file';
      if (type === 'file' || type === 'contiguous-file') {
        const name = entryPathComponents(header.name).join('/');
        files.set(
          name,
          await content.write(entry as AsyncIterable<Uint8Array>, {
            size: header.size ?? 0,
            what: `archive entry ${name}`,
          }),
        );
      } else if (type === 'symlink' || type === 'link') {
        const name = entryPathComponents(header.name).join('/');
        const linkname = header.linkname ?? '';
        // A symlink is relative to its directory, a hard link to the archive root.
        const target =
          type === 'symlink' && !linkname.startsWith('/') ? posix.join(posix.dirname(name), linkname) : linkname;
        const normalised = posix.normalize(target);
        if (normalised.startsWith('/') || normalised === '..' || normalised.startsWith('../')) {
          throw refuseEntry(header.name, `link to ${JSON.stringify(linkname)} leaves the archive`);
        }
        links.set(name, normalised);
      }
      entry.resume();
    }
    await feeding;
  } catch (error) {
    extract.destroy(null);
    await feeding.catch(() => undefined);
    for (const file of files.values()) if (file.created) await content.delete(file.digest);
    throw inputError('cannot read the image archive', error);
  }
  return new ImageArchive(files, links);
}
