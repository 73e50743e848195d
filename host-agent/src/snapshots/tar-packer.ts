/**
 * Writes tar streams: archives built from a list of entries (`docker save`), and a directory
 * tree packed as it is (`docker export` of a mounted rootfs) or as a layer diff (an overlay upper
 * directory, whiteouts turned back into `.wh.` entries, for `docker commit`).
 */
import { createReadStream } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';

import { FILE_TYPE, isWhiteoutStat, overlayOpaqueXattr, type SysCalls } from '../sys/sys-calls.js';
import type { IdMap } from '../userns/id-map.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './tar-entry-plan.js';
import { drainedOrClosed } from '../drained.js';

export interface TarHeader {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  uname?: string;
  gname?: string;
}

export interface TarEntry {
  header: TarHeader;
  /** The content of a file entry; `header.size` must match it. */
  body?: Uint8Array | string | (() => AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>);
}

const EPOCH = new Date(0);

/** A tar stream of `entries`, produced lazily as the consumer reads. */
export function packTar(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): Readable {
  const pack = tar.pack();
  const writing = (async () => {
    for await (const entry of entries) await addEntry(pack, entry);
    pack.finalize();
  })();
  writing.catch((error: unknown) => pack.destroy(error as Error));
  return Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
}

/** The whole archive in memory; for small archives and tests. */
export async function tarBuffer(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of packTar(entries)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function addEntry(pack: tar.Pack, { header, body }: TarEntry): Promise<void> {
  const bytes =
    typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? Buffer.from(body) : undefined;
  const size = header.type === 'file' ? (bytes?.length ?? header.size ?? 0) : 0;
  // tar-stream replaces a mode of 0 by its default; the file type bits keep it 0 on the wire.
  const mode = (header.mode ?? (header.type === 'directory' ? 0o755 : 0o644)) | typeBits(header.type);
  const fullHeader = {
    ...header,
    size,
    mode,
    mtime: header.mtime ?? EPOCH,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
  };
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry(fullHeader, (error) => (error ? reject(error) : resolve()));
    if (header.type !== 'file' || size === 0) {
      sink.end(null);
      return;
    }
    if (bytes !== undefined) {
      sink.end(bytes);
      return;
    }
    const stream = typeof body === 'function' ? body() : undefined;
    void (async () => {
      try {
        for await (const chunk of (await stream) ?? []) {
          if (!sink.write(chunk)) await drainedOrClosed(sink);
          // The consumer went away: stop reading (leaving the loop closes the source).
          if (sink.destroyed) throw new Error('tar entry destroyed');
        }
        sink.end(null);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        sink.destroy(failure);
        reject(failure);
      }
    })();
  });
}

function typeBits(type: TarHeader['type']): number {
  switch (type) {
    case 'directory':
      return FILE_TYPE.directory;
    case 'symlink':
      return FILE_TYPE.symlink;
    case 'character-device':
      return FILE_TYPE.char;
    case 'block-device':
      return FILE_TYPE.block;
    case 'fifo':
      return FILE_TYPE.fifo;
    case 'file':
    case 'link':
      return FILE_TYPE.regular;
  }
}

export interface PackDirectoryOptions {
  sys: SysCalls;
  /**
   * `plain`: the tree as it is (export of a mounted rootfs).
   * `overlay-diff`: an overlay upper directory as a layer: whiteout devices become `.wh.name`
   * files and opaque directories get a `.wh..wh..opq` entry.
   */
  mode: 'plain' | 'overlay-diff';
  /** The engine's user namespace remapping: owners go into the tar as container ids. */
  ids?: IdMap;
}

/** Entries of the tree under `root`, parents before children, names sorted, relative names. */
export async function* directoryEntries(
  root: string,
  { sys, mode, ids }: PackDirectoryOptions,
): AsyncGenerator<TarEntry> {
  const seenInodes = new Map<string, string>();
  const opaqueXattr = overlayOpaqueXattr(ids !== undefined);
  async function* walk(relative: string): AsyncGenerator<TarEntry> {
    const names = (await readdir(join(root, relative))).sort();
    for (const name of names) {
      const path = join(root, relative, name);
      const entryName = relative === '' ? name : `${relative}/${name}`;
      const stat = sys.lstat(path);
      const type = stat.mode & FILE_TYPE.mask;
      const common = {
        mode: stat.mode & 0o7777,
        uid: ids ? ids.containerUid(stat.uid) : stat.uid,
        gid: ids ? ids.containerGid(stat.gid) : stat.gid,
        mtime: new Date(stat.mtimeMs),
      };
      if (mode === 'overlay-diff' && isWhiteoutStat(stat)) {
        const whiteout = relative === '' ? `${WHITEOUT_PREFIX}${name}` : `${relative}/${WHITEOUT_PREFIX}${name}`;
        yield { header: { name: whiteout, type: 'file', ...common, mode: 0o644, size: 0 } };
        continue;
      }
      switch (type) {
        case FILE_TYPE.directory: {
          yield { header: { name: `${entryName}/`, type: 'directory', ...common } };
          if (mode === 'overlay-diff' && sys.lgetxattr(path, opaqueXattr)?.toString() === 'y') {
            yield {
              header: { name: `${entryName}/${OPAQUE_WHITEOUT}`, type: 'file', ...common, mode: 0o644, size: 0 },
            };
          }
          yield* walk(entryName);
          break;
        }
        case FILE_TYPE.regular: {
          const key = `${stat.dev}:${stat.ino}`;
          const first = stat.nlink > 1 ? seenInodes.get(key) : undefined;
          if (first !== undefined) {
            yield { header: { name: entryName, type: 'link', linkname: first, ...common } };
            break;
          }
          if (stat.nlink > 1) seenInodes.set(key, entryName);
          yield {
            header: { name: entryName, type: 'file', size: stat.size, ...common },
            // At most the size in the header: a file growing under a live container must not
            // corrupt the archive.
            body: () => createReadStream(path, { start: 0, end: Math.max(stat.size - 1, 0) }),
          };
          break;
        }
        case FILE_TYPE.symlink:
          yield { header: { name: entryName, type: 'symlink', linkname: await readlink(path), ...common } };
          break;
        case FILE_TYPE.char:
        case FILE_TYPE.block:
          yield {
            header: {
              name: entryName,
              type: type === FILE_TYPE.char ? 'character-device' : 'block-device',
              devmajor: stat.rdevMajor,
              devminor: stat.rdevMinor,
              ...common,
            },
          };
          break;
        case FILE_TYPE.fifo:
          yield { header: { name: entryName, type: 'fifo', ...common } };
          break;
        default:
          // Sockets cannot be archived; tar skips them too.
          break;
      }
    }
  }
  yield* walk('');
}

/** `root` packed as a tar stream (see PackDirectoryOptions for the modes). */
export function packDirectory(root: string, options: PackDirectoryOptions): Readable {
  return packTar(directoryEntries(root, options));
}
