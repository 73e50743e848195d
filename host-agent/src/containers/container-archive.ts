/**
 * `docker cp`: the files of a container read and written from the host.
 *
 * The user's path is resolved by the agent itself, component by component, inside the container's
 * root: absolute symlinks start again at that root and `..` stops there, as openat2(2) with
 * RESOLVE_IN_ROOT would. Letting the kernel follow a container's `/tmp/evil -> /etc` from the host
 * would write the host's /etc (CVE-2018-15664 and its kind).
 *
 * A running or paused container is reached through `/proc/<pid>/root`: its own view, volumes and
 * tmpfs included. A stopped one gets its overlay mounted on its rootfs target for the copy, with
 * its volumes and bind mounts over their destinations, and unmounted afterwards.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { EngineError, forbidden, invalidArgument, notFound } from '../engine-error.js';
import { overlayOptions } from '../snapshots/overlay-snapshotter.js';
import { extractTar } from '../snapshots/tar-extractor.js';
import type { IdMap } from '../userns/id-map.js';
import { directoryEntries, packTar, type TarEntry, type TarHeader } from '../snapshots/tar-packer.js';
import { FILE_TYPE, type NodeStat, type SysCalls } from '../sys/sys-calls.js';
import type { ContainerRecord } from './container-record.js';

// ---- resolving a path inside a root -------------------------------------------------------------

export type NodeKind = 'directory' | 'symlink' | 'other' | 'missing';

/** The two questions the resolver asks of the filesystem; a map in unit tests. */
export interface RootView {
  /** What lstat(2) finds at the host path, never following a symlink. */
  kind(hostPath: string): Promise<NodeKind>;
  readlink(hostPath: string): Promise<string>;
}

export type ResolveFailure = 'missing' | 'not-a-directory' | 'symlink-loop';

export class PathResolveError extends Error {
  constructor(
    readonly reason: ResolveFailure,
    /** The container path where the walk stopped. */
    readonly at: string,
  ) {
    super(
      reason === 'missing'
        ? `${at} does not exist`
        : reason === 'not-a-directory'
          ? `${at} is not a directory`
          : `too many levels of symbolic links at ${at}`,
    );
    this.name = 'PathResolveError';
  }
}

export interface ResolvedPath {
  /** Where the node is inside the container, symlinks before it resolved. */
  containerPath: string;
  /** The same node through the host path of the root. */
  hostPath: string;
  /** What is there; `missing` only for the last component (a missing parent throws). */
  kind: NodeKind;
}

/** Linux's limit (MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;

/**
 * Resolves `path` inside `root` without ever leaving it. The last component is followed when it
 * is a symlink only if `followFinal` (lstat versus stat); every other symlink is followed, with
 * absolute targets taken from `root` and `..` clamped at it.
 */
export async function resolveInRoot(
  root: string,
  path: string,
  view: RootView,
  { followFinal }: { followFinal: boolean },
): Promise<ResolvedPath> {
  const queue = path.split('/');
  const resolved: string[] = [];
  const here = (...more: string[]) => `/${[...resolved, ...more].join('/')}`;
  let hops = 0;
  while (queue.length > 0) {
    const component = queue.shift() ?? '';
    if (component === '' || component === '.') continue;
    if (component === '..') {
      resolved.pop();
      continue;
    }
    const last = queue.every((rest) => rest === '' || rest === '.');
    const hostPath = join(root, ...resolved, component);
    const kind = await view.kind(hostPath);
    if (kind === 'symlink' && (!last || followFinal)) {
      hops += 1;
      if (hops > MAX_SYMLINK_HOPS) throw new PathResolveError('symlink-loop', here(component));
      const target = await view.readlink(hostPath);
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/'));
      continue;
    }
    if (last) {
      resolved.push(component);
      return { containerPath: here(), hostPath, kind };
    }
    if (kind === 'missing') throw new PathResolveError('missing', here(component));
    if (kind !== 'directory') throw new PathResolveError('not-a-directory', here(component));
    resolved.push(component);
  }
  return { containerPath: here(), hostPath: join(root, ...resolved), kind: 'directory' };
}

/** The RootView of the real filesystem. */
export const diskView: RootView = {
  async kind(hostPath) {
    try {
      const stat = await lstat(hostPath);
      return stat.isDirectory() ? 'directory' : stat.isSymbolicLink() ? 'symlink' : 'other';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
      throw error;
    }
  },
  readlink: (hostPath) => readlink(hostPath),
};

// ---- the rules of PUT ----------------------------------------------------------------------------

/**
 * Why an archive entry may not replace what is in the container under `noOverwriteDirNonDir`,
 * in dockerd's words; undefined when it may.
 */
export function overwriteRefusal(
  existing: 'directory' | 'other' | 'missing',
  incoming: 'directory' | 'other',
  containerPath: string,
  entryName: string,
): string | undefined {
  if (existing === 'directory' && incoming === 'other') {
    return `cannot overwrite directory ${JSON.stringify(containerPath)} with non-directory ${JSON.stringify(entryName)}`;
  }
  if (existing === 'other' && incoming === 'directory') {
    return `cannot overwrite non-directory ${JSON.stringify(containerPath)} with directory ${JSON.stringify(entryName)}`;
  }
  return undefined;
}

// ---- the path stat header ------------------------------------------------------------------------

/** What `X-Docker-Container-Path-Stat` carries (base64 JSON), as the docker CLI decodes it. */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** A Go os.FileMode: permission bits plus Go's own type bits, not st_mode. */
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go's os.FileMode of an st_mode (the CLI asks `IsDir()` and the like of it). */
export function goFileMode(mode: number): number {
  let result = mode & 0o777;
  switch (mode & FILE_TYPE.mask) {
    case FILE_TYPE.directory:
      result += 2 ** 31;
      break;
    case FILE_TYPE.symlink:
      result += 2 ** 27;
      break;
    case FILE_TYPE.block:
      result += 2 ** 26;
      break;
    case FILE_TYPE.char:
      result += 2 ** 26 + 2 ** 21;
      break;
    case FILE_TYPE.fifo:
      result += 2 ** 25;
      break;
    case FILE_TYPE.socket:
      result += 2 ** 24;
      break;
    default:
      break;
  }
  if (mode & 0o4000) result += 2 ** 23;
  if (mode & 0o2000) result += 2 ** 22;
  if (mode & 0o1000) result += 2 ** 20;
  return result;
}

export function encodePathStat(stat: ContainerPathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** The name the CLI shows and the archive's top entry: the last component the user gave. */
export function baseName(path: string): string {
  const components = path.split('/').filter((component) => component !== '');
  return components.at(-1) ?? '/';
}

// ---- the service ---------------------------------------------------------------------------------

export interface ContainerArchiveOptions {
  sys: SysCalls;
  view?: RootView;
  /** The engine's user namespace remapping: owners are host ids on disk, container ids in archives. */
  ids?: IdMap;
}

export interface PutOptions {
  noOverwriteDirNonDir: boolean;
  /** Keep the archive's owners; otherwise everything belongs to the container's root. */
  copyUIDGID: boolean;
}

interface RootLease {
  root: string;
  release(): void;
}

/** `docker cp` in and out of one container at a time. */
export class ContainerArchive {
  private readonly view: RootView;
  /** Stopped containers whose rootfs is mounted for a copy, with how many copies use it. */
  private readonly mounted = new Map<string, { users: number; targets: Promise<string[]> }>();

  constructor(private readonly options: ContainerArchiveOptions) {
    this.view = options.view ?? diskView;
  }

  /** HEAD: what is at `path`; a not-found error naming path and container when nothing is. */
  async stat(record: ContainerRecord, path: string): Promise<ContainerPathStat> {
    const lease = await this.acquire(record);
    try {
      return (await this.locate(record, lease.root, path)).stat;
    } finally {
      lease.release();
    }
  }

  /** GET: the node at `path` as a tar whose top entry is its base name. */
  async get(record: ContainerRecord, path: string): Promise<{ stat: ContainerPathStat; archive: Readable }> {
    const lease = await this.acquire(record);
    try {
      const { stat, resolved } = await this.locate(record, lease.root, path);
      const archive = packTar(this.entries(resolved.hostPath, path.endsWith('/.') ? '.' : stat.name));
      archive.once('close', () => lease.release());
      return { stat, archive };
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  /** PUT: unpacks `body` into the directory at `path`; all of it, or nothing on a refusal. */
  async put(
    record: ContainerRecord,
    path: string,
    body: AsyncIterable<Uint8Array>,
    options: PutOptions,
  ): Promise<void> {
    const lease = await this.acquire(record);
    try {
      const resolved = await this.resolve(record, lease.root, path, true);
      if (resolved.kind === 'missing') throw notFound(couldNotFind(path, record));
      if (resolved.kind !== 'directory') throw invalidArgument(`extraction point ${path} is not a directory`);
      const staging = join(resolved.hostPath, `.skiff-cp-${randomBytes(6).toString('hex')}`);
      try {
        await extractTar(body, staging, {
          sys: this.options.sys,
          whiteouts: false,
          preserveOwnership: options.copyUIDGID,
          ...(this.options.ids ? { ids: this.options.ids } : {}),
        });
        if (options.noOverwriteDirNonDir) await checkOverwrites(staging, resolved.hostPath, resolved.containerPath, '');
        await merge(staging, resolved.hostPath);
      } catch (error) {
        throw readOnlyAsForbidden(error, path, record);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    } finally {
      lease.release();
    }
  }

  private async locate(
    record: ContainerRecord,
    root: string,
    path: string,
  ): Promise<{ resolved: ResolvedPath; stat: ContainerPathStat }> {
    const followFinal = path.endsWith('/') || path.endsWith('/.');
    const resolved = await this.resolve(record, root, path, followFinal);
    if (resolved.kind === 'missing') throw notFound(couldNotFind(path, record));
    const node = this.options.sys.lstat(resolved.hostPath);
    let linkTarget = '';
    if (resolved.kind === 'symlink') {
      linkTarget = await this.resolve(record, root, path, true).then(
        (target) => target.containerPath,
        async () => readlink(resolved.hostPath),
      );
    }
    const stat = {
      name: baseName(path),
      size: node.size,
      mode: goFileMode(node.mode),
      mtime: new Date(node.mtimeMs).toISOString(),
      linkTarget,
    };
    return { resolved, stat };
  }

  private async resolve(record: ContainerRecord, root: string, path: string, followFinal: boolean) {
    if (path === '') throw invalidArgument('path is required: give a path in the container');
    try {
      return await resolveInRoot(root, path, this.view, { followFinal });
    } catch (error) {
      if (!(error instanceof PathResolveError)) throw error;
      if (error.reason === 'missing') throw notFound(couldNotFind(path, record));
      throw invalidArgument(`cannot resolve ${path} in container ${record.name}: ${error.message}`);
    }
  }

  private async *entries(hostPath: string, name: string): AsyncGenerator<TarEntry> {
    const { sys } = this.options;
    const node = sys.lstat(hostPath);
    const top = await nodeEntry(name, hostPath, node, this.options.ids);
    if (top === undefined) return;
    yield top;
    if (top.header.type !== 'directory') return;
    const { ids } = this.options;
    for await (const entry of directoryEntries(hostPath, { sys, mode: 'plain', ...(ids ? { ids } : {}) })) {
      const header: TarHeader = { ...entry.header, name: `${name}/${entry.header.name}` };
      if (header.type === 'link' && header.linkname !== undefined) header.linkname = `${name}/${header.linkname}`;
      yield { ...entry, header };
    }
  }

  /**
   * The root to copy through. The first copy into a stopped container mounts its overlay (and
   * its volumes and binds) at the rootfs target; the last one to finish unmounts it.
   */
  private async acquire(record: ContainerRecord): Promise<RootLease> {
    const { status, pid } = record.state;
    if ((status === 'running' || status === 'paused') && pid > 0) {
      return { root: `/proc/${pid}/root`, release: () => undefined };
    }
    let mount = this.mounted.get(record.id);
    if (mount === undefined) {
      mount = { users: 0, targets: this.mountStopped(record) };
      this.mounted.set(record.id, mount);
    }
    mount.users += 1;
    const held = mount;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users > 0) return;
      this.mounted.delete(record.id);
      void held.targets.then(
        (targets) => {
          for (const target of targets.reverse()) {
            try {
              this.options.sys.umount2(target, ['detach']);
            } catch {
              // Already gone: nothing to undo.
            }
          }
        },
        () => undefined,
      );
    };
    try {
      await held.targets;
    } catch (error) {
      release();
      throw error;
    }
    return { root: record.rootfs.mountTarget, release };
  }

  /** Mounts a stopped container's filesystem; returns the mount points, outermost first. */
  private async mountStopped(record: ContainerRecord): Promise<string[]> {
    const { sys } = this.options;
    const { lowerDirs, upperDir, workDir, mountTarget } = record.rootfs;
    sys.mount({
      source: 'overlay',
      target: mountTarget,
      fstype: 'overlay',
      data: overlayOptions(lowerDirs, upperDir, workDir, this.options.ids !== undefined),
    });
    const targets = [mountTarget];
    try {
      for (const mount of record.mounts) {
        if (mount.Type === 'tmpfs' || mount.Source === '') continue;
        // Resolved like any copy path: a destination symlink must not send the bind to the host.
        const destination = await resolveInRoot(mountTarget, mount.Destination, this.view, { followFinal: true });
        if (destination.kind === 'missing') continue;
        sys.mount({ source: mount.Source, target: destination.hostPath, fstype: '', flags: ['bind', 'rec'] });
        targets.push(destination.hostPath);
        if (!mount.RW) {
          sys.mount({ source: '', target: destination.hostPath, fstype: '', flags: ['bind', 'remount', 'rdonly'] });
        }
      }
    } catch (error) {
      for (const target of targets.reverse()) sys.umount2(target, ['detach']);
      throw error;
    }
    return targets;
  }
}

function couldNotFind(path: string, record: ContainerRecord): string {
  return `Could not find the file ${path} in container ${record.name}`;
}

function readOnlyAsForbidden(error: unknown, path: string, record: ContainerRecord): unknown {
  if (!(error instanceof EngineError) && (error as NodeJS.ErrnoException).code === 'EROFS') {
    return forbidden(`cannot copy to ${path} in container ${record.name}: it is on a read-only filesystem`);
  }
  return error;
}

/** The archive entry of one node; undefined for a socket, which tar cannot hold. */
async function nodeEntry(
  name: string,
  hostPath: string,
  node: NodeStat,
  ids: IdMap | undefined,
): Promise<TarEntry | undefined> {
  const common = {
    mode: node.mode & 0o7777,
    uid: ids ? ids.containerUid(node.uid) : node.uid,
    gid: ids ? ids.containerGid(node.gid) : node.gid,
    mtime: new Date(node.mtimeMs),
  };
  switch (node.mode & FILE_TYPE.mask) {
    case FILE_TYPE.directory:
      return { header: { name: `${name}/`, type: 'directory', ...common } };
    case FILE_TYPE.regular: {
      return {
        header: { name, type: 'file', size: node.size, ...common },
        body: () => createReadStream(hostPath, { start: 0, end: Math.max(node.size - 1, 0) }),
      };
    }
    case FILE_TYPE.symlink:
      return { header: { name, type: 'symlink', linkname: await readlink(hostPath), ...common } };
    case FILE_TYPE.char:
    case FILE_TYPE.block:
      return {
        header: {
          name,
          type: (node.mode & FILE_TYPE.mask) === FILE_TYPE.char ? 'character-device' : 'block-device',
          devmajor: node.rdevMajor,
          devminor: node.rdevMinor,
          ...common,
        },
      };
    case FILE_TYPE.fifo:
      return { header: { name, type: 'fifo', ...common } };
    default:
      return undefined;
  }
}

/** Refuses the whole archive, before anything moves, when it would swap a directory and a non-directory. */
async function checkOverwrites(from: string, to: string, containerDir: string, prefix: string): Promise<void> {
  for (const name of await readdir(from)) {
    const incoming = (await lstat(join(from, name))).isDirectory() ? 'directory' : 'other';
    const existing = await kindOf(join(to, name));
    const containerPath = containerDir === '/' ? `/${name}` : `${containerDir}/${name}`;
    const refusal = overwriteRefusal(existing, incoming, containerPath, `${prefix}${name}`);
    if (refusal !== undefined) throw invalidArgument(refusal);
    if (existing === 'directory' && incoming === 'directory') {
      await checkOverwrites(join(from, name), join(to, name), containerPath, `${prefix}${name}/`);
    }
  }
}

/**
 * Moves the unpacked tree into place: into directories that exist, over anything else (a symlink
 * in the way is replaced, never followed), as tar itself would.
 */
async function merge(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    const source = join(from, name);
    const target = join(to, name);
    const existing = await kindOf(target);
    if (existing === 'directory' && (await lstat(source)).isDirectory()) {
      await merge(source, target);
      continue;
    }
    if (existing !== 'missing') await rm(target, { recursive: true, force: true });
    await rename(source, target);
  }
}

async function kindOf(path: string): Promise<'directory' | 'other' | 'missing'> {
  try {
    return (await lstat(path)).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}
