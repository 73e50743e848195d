/**
 * Unpacks a tar stream into a new directory, safely. Every entry is planned from its header
 * (tar-entry-plan.ts), then each step on the disk is checked before it is taken: a parent that
 * passes through a symlink leading out of the target, a hard link to something outside, or an
 * entry that would replace the target itself is refused with an error naming the entry.
 * Everything is written into a staging directory next to the destination, renamed into place
 * only when the whole archive was good, and removed on any failure: a refused archive leaves
 * nothing behind, inside or outside.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, lutimesSync, openSync, utimesSync } from 'node:fs';
import { link, lstat, lutimes, mkdir, open, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import tar from 'tar-stream';

import { conflict } from '../engine-error.js';
import { overlayOpaqueXattr, SysError, type SysCalls } from '../sys/sys-calls.js';
import { UnmappableIdError, type IdMap } from '../userns/id-map.js';
import type { Digest } from './digest.js';
import { planEntry, refuseEntry, type EntryAttributes, type EntryPlan, type TarEntryHeader } from './tar-entry-plan.js';
import { drainedOrClosed } from '../drained.js';
import { writeAll, writeAllSync } from './write-all.js';

export interface ExtractOptions {
  sys: SysCalls;
  /** Convert `.wh.` entries into overlayfs whiteouts (true for image layers). */
  whiteouts?: boolean;
  /** Create device nodes instead of refusing them (default false). */
  allowDevices?: boolean;
  /** lchown each entry to the uid and gid in the archive (default: when running as root). */
  preserveOwnership?: boolean;
  /**
   * The engine's user namespace remapping: owners are stored as host ids (an entry owned by an
   * id it cannot map is refused), entries not keeping their owner belong to the container's root,
   * and opaque directories are marked for an overlay mounted with `userxattr`.
   */
  ids?: IdMap;
  /**
   * A small file whose synchronous create, write and close took longer than this (a disk that
   * throttles writers) sends the rest of the archive through the thread pool, so the event loop
   * is not held up again (default 20 ms).
   */
  slowWriteMs?: number;
}

export interface ExtractResult {
  /** sha256 of the tar stream as read: a layer's diff id. */
  digest: Digest;
  /** Bytes of regular files written (a hard-linked file counts once). */
  size: number;
  /** Length of the tar stream. */
  tarSize: number;
  entries: number;
  /** Regular files written on the event loop (see writeSmallFile); the others went through the pool. */
  filesWrittenOnLoop: number;
}

const MAX_SYMLINK_HOPS = 40;
const FILE_WRITE_BATCH_BYTES = 1024 * 1024;
/** Files up to this size are written synchronously (see writeSmallFile). */
const SMALL_FILE_BYTES = 1024 * 1024;
const SLOW_WRITE_MS = 20;

/**
 * Extracts the uncompressed tar `source` into `destination`, which must not exist yet.
 * `source` is read to its end, so the digest covers the whole stream.
 */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  destination: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  if (await exists(destination)) throw conflict(`cannot unpack into ${destination}: it already exists`);
  const staging = join(dirname(destination), `.${basename(destination)}.staging-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { mode: 0o755 });
  try {
    if (options.ids) options.sys.lchown(staging, options.ids.root.uid, options.ids.root.gid);
    const result = await new Extraction(staging, options).run(source);
    await rename(staging, destination);
    return result;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

class Extraction {
  private readonly whiteouts: boolean;
  private readonly allowDevices: boolean;
  private readonly preserveOwnership: boolean;
  /** Directory times are set last: creating children changes them. */
  private readonly directoryTimes: { path: string; mtime: Date }[] = [];
  private size = 0;
  private entries = 0;
  private filesWrittenOnLoop = 0;
  /** Small files are written on the event loop until one such write turns out slow. */
  private writeOnLoop = true;

  constructor(
    private readonly root: string,
    private readonly options: ExtractOptions,
  ) {
    this.whiteouts = options.whiteouts ?? true;
    this.allowDevices = options.allowDevices ?? false;
    this.preserveOwnership = options.preserveOwnership ?? process.getuid?.() === 0;
  }

  async run(source: AsyncIterable<Uint8Array>): Promise<ExtractResult> {
    // Old v7 tars have no ustar magic; their checksums are still verified.
    const extract = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
    const hash = createHash('sha256');
    const counter = { bytes: 0 };
    const feeding = feed(source, extract, hash, counter);
    // A source that fails while an entry is being written rejects `feeding` before anything
    // awaits it: mark it handled now (it is still awaited, and its error still thrown, below).
    feeding.catch(() => undefined);
    try {
      for await (const entry of extract) {
        await this.apply(entry.header as TarEntryHeader, entry as AsyncIterable<Uint8Array>);
        // Drain whatever the plan did not read (directories, links, skipped entries).
        entry.resume();
      }
    } catch (error) {
      extract.destroy(error as Error);
      await feeding.catch(() => undefined);
      throw error;
    }
    await feeding;
    for (const { path, mtime } of this.directoryTimes.reverse()) {
      // A later entry may have replaced the directory, or one of its parents, by a symlink:
      // set the time only on a directory still reached without following any.
      if (await this.isPlainDirectory(path)) await lutimes(path, mtime, mtime);
    }
    return {
      digest: `sha256:${hash.digest('hex')}`,
      size: this.size,
      tarSize: counter.bytes,
      entries: this.entries,
      filesWrittenOnLoop: this.filesWrittenOnLoop,
    };
  }

  private async isPlainDirectory(path: string): Promise<boolean> {
    const components = relative(this.root, path)
      .split(sep)
      .filter((component) => component !== '');
    for (let depth = 1; depth <= components.length; depth += 1) {
      try {
        if (!(await lstat(join(this.root, ...components.slice(0, depth)))).isDirectory()) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  private async apply(header: TarEntryHeader, body: AsyncIterable<Uint8Array>): Promise<void> {
    const plan = planEntry(header, { whiteouts: this.whiteouts, allowDevices: this.allowDevices });
    if (plan.action === 'skip') return;
    this.entries += 1;
    const { sys } = this.options;
    const name = header.name;
    switch (plan.action) {
      case 'root':
        this.setAttributes(this.root, plan.attributes, 'directory');
        return;
      case 'directory': {
        const { path, existingDirectory } = await this.prepare(name, plan.path, 'directory');
        if (!existingDirectory) await mkdir(path, { mode: 0o700 });
        this.setAttributes(path, plan.attributes, 'directory');
        return;
      }
      case 'file': {
        const { path } = await this.prepare(name, plan.path, 'file');
        if (this.writeOnLoop && plan.size <= SMALL_FILE_BYTES) {
          const took = await writeSmallFile(path, body);
          this.filesWrittenOnLoop += 1;
          if (took > (this.options.slowWriteMs ?? SLOW_WRITE_MS)) this.writeOnLoop = false;
        } else {
          await writeLargeFile(path, body);
        }
        this.size += plan.size;
        this.setAttributes(path, plan.attributes, 'file');
        return;
      }
      case 'symlink': {
        const { path } = await this.prepare(name, plan.path, 'symlink');
        await symlink(plan.target, path);
        this.setAttributes(path, plan.attributes, 'symlink');
        return;
      }
      case 'hardlink': {
        const target = await this.resolveLinkTarget(name, plan.target);
        const { path } = await this.prepare(name, plan.path, 'hardlink');
        await link(target, path);
        return;
      }
      case 'device':
      case 'fifo': {
        const { path } = await this.prepare(name, plan.path, plan.action);
        sys.mknod(
          plan.action === 'device'
            ? { path, kind: plan.kind, permissions: plan.attributes.mode, major: plan.major, minor: plan.minor }
            : { path, kind: 'fifo', permissions: plan.attributes.mode },
        );
        this.setAttributes(path, plan.attributes, 'node');
        return;
      }
      case 'whiteout': {
        const { path } = await this.prepare(name, plan.path, 'whiteout');
        sys.mknod({ path, kind: 'char', permissions: 0, major: 0, minor: 0 });
        return;
      }
      case 'opaque': {
        // The directory is resolved like a parent: through symlinks that stay inside, never out.
        const directory = await this.resolveInside(name, plan.path === '' ? [] : plan.path.split('/'), true);
        sys.lsetxattr(directory, overlayOpaqueXattr(this.options.ids !== undefined), 'y');
        return;
      }
    }
  }

  /**
   * Resolves the parent of `path` inside the root and clears the way for a new entry there:
   * an existing directory stays when the entry is a directory too; anything else in the way
   * is removed (tar semantics: a later entry replaces an earlier one).
   */
  private async prepare(
    name: string,
    path: string,
    kind: EntryPlan['action'],
  ): Promise<{ path: string; existingDirectory: boolean }> {
    const components = path.split('/');
    const last = components.pop() ?? '';
    const full = join(await this.resolveInside(name, components, true), last);
    const existing = lstatSync(full, { throwIfNoEntry: false });
    if (existing === undefined) return { path: full, existingDirectory: false };
    if (kind === 'directory' && existing.isDirectory()) return { path: full, existingDirectory: true };
    await rm(full, { recursive: existing.isDirectory(), force: true });
    return { path: full, existingDirectory: false };
  }

  /**
   * Follows `components` from the root as the kernel would, creating missing directories
   * (tar archives need not list parents), and refuses any symlink that leads out of the root:
   * an absolute one (it would name a host path) or a relative one that climbs above the root.
   */
  private async resolveInside(name: string, components: string[], createMissing: boolean): Promise<string> {
    const queue = [...components];
    const resolved: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const component = queue.shift() ?? '';
      if (component === '' || component === '.') continue;
      if (component === '..') {
        if (resolved.length === 0) throw refuseEntry(name, `its path leads out of the target through a symlink`);
        resolved.pop();
        continue;
      }
      const candidate = join(this.root, ...resolved, component);
      // Metadata calls here are synchronous (a few microseconds each, cheaper than a trip through
      // the thread pool for every entry); creating files and writing data stay asynchronous.
      const stat = lstatSync(candidate, { throwIfNoEntry: !createMissing });
      if (stat === undefined) {
        await mkdir(candidate, { mode: 0o755 });
        // A parent the archive does not list belongs to the container's root, as with dockerd.
        if (this.options.ids) this.options.sys.lchown(candidate, this.options.ids.root.uid, this.options.ids.root.gid);
        resolved.push(component);
        continue;
      }
      if (stat.isDirectory()) {
        resolved.push(component);
        continue;
      }
      const at = [...resolved, component].join('/');
      if (!stat.isSymbolicLink()) throw refuseEntry(name, `${JSON.stringify(at)} is not a directory`);
      hops += 1;
      if (hops > MAX_SYMLINK_HOPS) throw refuseEntry(name, 'too many levels of symbolic links');
      const target = await readlink(candidate);
      if (target.startsWith('/')) {
        throw refuseEntry(name, `${JSON.stringify(at)} is a symlink to ${target}, out of the target`);
      }
      const before = resolved.length;
      const targetComponents = target.split('/');
      // Check the climb now so the message names this symlink.
      let depth = before;
      for (const part of targetComponents) {
        if (part === '..') depth -= 1;
        else if (part !== '' && part !== '.') depth += 1;
        if (depth < 0) throw refuseEntry(name, `${JSON.stringify(at)} is a symlink to ${target}, out of the target`);
      }
      queue.unshift(...targetComponents);
    }
    return join(this.root, ...resolved);
  }

  private async resolveLinkTarget(name: string, target: string): Promise<string> {
    const components = target.split('/');
    const last = components.pop() ?? '';
    const parent = await this.resolveInside(name, components, false).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw refuseEntry(name, `hard link target ${JSON.stringify(target)} does not exist`);
      }
      throw error;
    });
    const full = join(parent, last);
    let stat;
    try {
      stat = await lstat(full);
    } catch {
      throw refuseEntry(name, `hard link target ${JSON.stringify(target)} does not exist`);
    }
    if (stat.isDirectory()) throw refuseEntry(name, `hard link target ${JSON.stringify(target)} is a directory`);
    return full;
  }

  /** Synchronous: a few metadata calls on a file just made, each cheaper than a trip through the thread pool. */
  private setAttributes(
    path: string,
    attributes: EntryAttributes,
    kind: 'directory' | 'file' | 'symlink' | 'node',
  ): void {
    const { sys, ids } = this.options;
    if (ids) sys.lchown(path, ...hostOwner(ids, this.preserveOwnership ? attributes : { uid: 0, gid: 0 }, path));
    else if (this.preserveOwnership) sys.lchown(path, attributes.uid, attributes.gid);
    // chmod after chown: chown clears setuid and setgid.
    if (kind !== 'symlink') chmodSync(path, attributes.mode);
    for (const [attribute, value] of Object.entries(attributes.xattrs)) {
      try {
        sys.lsetxattr(path, attribute, Buffer.from(value, 'utf8'));
      } catch (error) {
        // A filesystem without user xattrs must not make a whole image unusable.
        if (!(error instanceof SysError && (error.code === 'ENOTSUP' || error.code === 'EOPNOTSUPP'))) throw error;
      }
    }
    if (kind === 'directory') this.directoryTimes.push({ path, mtime: attributes.mtime });
    else if (kind === 'symlink') lutimesSync(path, attributes.mtime, attributes.mtime);
    else utimesSync(path, attributes.mtime, attributes.mtime);
  }
}

/**
 * A file of up to a MiB (most files of most images) is read whole from the archive, then
 * created, written and closed on this thread: three trips through the thread pool per file cost
 * more than the calls themselves, and cost the whole pull its pace. Returns how long the
 * synchronous part took, in milliseconds.
 */
async function writeSmallFile(path: string, body: AsyncIterable<Uint8Array>): Promise<number> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    parts.push(chunk);
    length += chunk.length;
  }
  const start = performance.now();
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeAllSync(fd, parts, length);
  } finally {
    closeSync(fd);
  }
  return performance.now() - start;
}

/** A bigger file goes out through the thread pool, one writev per MiB of its pieces. */
async function writeLargeFile(path: string, body: AsyncIterable<Uint8Array>): Promise<void> {
  const file = await open(path, 'wx', 0o600);
  try {
    let batch: Uint8Array[] = [];
    let batched = 0;
    for await (const chunk of body) {
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= FILE_WRITE_BATCH_BYTES) {
        await writeAll(file, batch, batched);
        batch = [];
        batched = 0;
      }
    }
    if (batched > 0) await writeAll(file, batch, batched);
  } finally {
    await file.close();
  }
}

/** Writes `source` into the tar parser with backpressure, hashing every byte on the way. */
async function feed(
  source: AsyncIterable<Uint8Array>,
  extract: tar.Extract,
  hash: ReturnType<typeof createHash>,
  counter: { bytes: number },
): Promise<void> {
  try {
    for await (const chunk of source) {
      if (extract.destroyed) return;
      hash.update(chunk);
      counter.bytes += chunk.length;
      if (!extract.write(chunk)) await drainedOrClosed(extract);
    }
    extract.end(null);
  } catch (error) {
    extract.destroy(error as Error);
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function hostOwner(ids: IdMap, owner: { uid: number; gid: number }, path: string): [number, number] {
  try {
    return [ids.hostUid(owner.uid), ids.hostGid(owner.gid)];
  } catch (error) {
    if (error instanceof UnmappableIdError) throw refuseEntry(basename(path), error.message);
    throw error;
  }
}
