/**
 * The files COPY and ADD take: from the build context, or from the root filesystem of an earlier
 * stage or another image (`--from`). Every path is resolved by the agent, component by component,
 * and never leaves its root:
 * - in the context, `..` above the root and a symlink leading out of it (absolute, or climbing
 *   above the root) are refused with an error naming the path;
 * - in a root filesystem, symlinks resolve inside it as the container would see them
 *   (absolute targets start again at its root, `..` stops there).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';

import { invalidArgument, notFound } from '../engine-error.js';
import { diskView, PathResolveError, resolveInRoot } from '../containers/container-archive.js';
import { FILE_TYPE, type SysCalls } from '../sys/sys-calls.js';
import type { TarEntry, TarHeader } from '../snapshots/tar-packer.js';
import { directoryEntries } from '../snapshots/tar-packer.js';
import type { IdMap } from '../userns/id-map.js';

export interface ResolvedSource {
  /** The path as the Dockerfile gave it (after expansion), or what its wildcards matched. */
  path: string;
  hostPath: string;
  kind: 'file' | 'directory' | 'other';
}

const MAX_SYMLINK_HOPS = 40;
const WILDCARD = /[*?[]/;

export class SourceRoot {
  constructor(
    readonly root: string,
    /** `context`: links out are errors; `rootfs`: links resolve inside, as in a container. */
    private readonly mode: 'context' | 'rootfs',
    private readonly sys: SysCalls,
    /** For a root filesystem of an engine with `--userns-remap`: owners on disk are host ids. */
    private readonly ids?: IdMap,
    /** Names the root in errors: `the build context`, `stage builder`. */
    readonly what = 'the build context',
  ) {}

  /** The sources one COPY or ADD word means: itself, or every path its wildcards match. */
  async expand(path: string): Promise<ResolvedSource[]> {
    const clean = this.relative(path);
    if (!WILDCARD.test(clean)) return [await this.resolve(path, clean)];
    const regex = globRegex(clean);
    const matches = (await this.walk('')).filter((candidate) => regex.test(candidate)).sort();
    return Promise.all(matches.map((match) => this.resolve(match, match)));
  }

  /** One path, wildcards taken literally. */
  async resolvePath(path: string): Promise<ResolvedSource> {
    return this.resolve(path, this.relative(path));
  }

  /** A path relative to the root, `..` above it refused. */
  private relative(path: string): string {
    const normal = posix.normalize(`/${path}`);
    if (this.mode === 'context' && posix.normalize(path).split('/')[0] === '..') {
      throw invalidArgument(`forbidden path outside the build context: ${path}`);
    }
    return normal.replace(/^\/+/, '') || '.';
  }

  private async resolve(original: string, relative: string): Promise<ResolvedSource> {
    let hostPath: string;
    if (this.mode === 'rootfs') {
      try {
        const resolved = await resolveInRoot(this.root, relative, diskView, { followFinal: true });
        if (resolved.kind === 'missing') throw notFound(`${original} not found in ${this.what}`);
        hostPath = resolved.hostPath;
      } catch (error) {
        if (!(error instanceof PathResolveError)) throw error;
        throw notFound(`${original} not found in ${this.what}: ${error.message}`);
      }
    } else {
      hostPath = await this.resolveInContext(original, relative);
    }
    const stat = this.sys.lstat(hostPath);
    const type = stat.mode & FILE_TYPE.mask;
    const kind = type === FILE_TYPE.directory ? 'directory' : type === FILE_TYPE.regular ? 'file' : 'other';
    return { path: original, hostPath, kind };
  }

  private async resolveInContext(original: string, relative: string): Promise<string> {
    const queue = relative === '.' ? [] : relative.split('/');
    const resolved: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const component = queue.shift() ?? '';
      if (component === '' || component === '.') continue;
      if (component === '..') {
        if (resolved.length === 0) throw invalidArgument(`forbidden path outside the build context: ${original}`);
        resolved.pop();
        continue;
      }
      const hostPath = join(this.root, ...resolved, component);
      let isLink: boolean;
      try {
        const stat = await lstat(hostPath);
        isLink = stat.isSymbolicLink();
        if (!isLink && queue.length > 0 && !stat.isDirectory()) {
          throw notFound(
            `${original} not found in the build context: ${[...resolved, component].join('/')} is not a directory`,
          );
        }
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          throw notFound(
            `file not found in build context or excluded by .dockerignore: stat ${original}: file does not exist`,
          );
        }
        throw error;
      }
      if (!isLink) {
        resolved.push(component);
        continue;
      }
      hops += 1;
      if (hops > MAX_SYMLINK_HOPS) throw invalidArgument(`too many levels of symbolic links in ${original}`);
      const target = await readlink(hostPath);
      const inContext = [...resolved, component].join('/');
      if (target.startsWith('/')) {
        throw invalidArgument(
          `${original}: ${inContext} is a symlink to ${target}, which is outside the build context`,
        );
      }
      const joined = posix.normalize(posix.join(...(resolved.length ? resolved : ['.']), target));
      if (joined === '..' || joined.startsWith('../')) {
        throw invalidArgument(
          `${original}: ${inContext} is a symlink to ${target}, which is outside the build context`,
        );
      }
      resolved.length = 0;
      queue.unshift(...joined.split('/').filter((part) => part !== '.' && part !== ''));
    }
    return join(this.root, ...resolved);
  }

  /** Every path under `relative` (not following symlinks), relative to the root. */
  private async walk(relative: string): Promise<string[]> {
    const out: string[] = [];
    const names = await readdir(join(this.root, relative)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const path = relative === '' ? name : `${relative}/${name}`;
      out.push(path);
      const stat = await lstat(join(this.root, path));
      if (stat.isDirectory()) out.push(...(await this.walk(path)));
    }
    return out;
  }

  /**
   * The tar entries that put `source` under `name` (relative to the destination directory): a
   * file as `name`, a directory's contents under `name` (`''` for the destination itself).
   */
  async *entries(source: ResolvedSource, name: string, owner: Owner): AsyncGenerator<TarEntry> {
    const stat = this.sys.lstat(source.hostPath);
    const own = (header: TarHeader): TarHeader => ({
      ...header,
      uid: owner.uid,
      gid: owner.gid,
      ...(owner.mode === undefined ? {} : { mode: owner.mode }),
    });
    if (source.kind !== 'directory') {
      const type = stat.mode & FILE_TYPE.mask;
      if (type === FILE_TYPE.regular) {
        yield {
          header: own({ name, type: 'file', size: stat.size, mode: stat.mode & 0o7777, mtime: new Date(stat.mtimeMs) }),
          body: () => createReadStream(source.hostPath, { start: 0, end: Math.max(stat.size - 1, 0) }),
        };
        return;
      }
      if (type === FILE_TYPE.symlink) {
        yield { header: own({ name, type: 'symlink', linkname: await readlink(source.hostPath), mode: 0o777 }) };
        return;
      }
      throw invalidArgument(`${source.path} in ${this.what} is not a regular file, a directory or a symlink`);
    }
    const prefix = name === '' ? '' : `${name}/`;
    if (name !== '') {
      yield {
        header: own({ name: `${name}/`, type: 'directory', mode: stat.mode & 0o7777, mtime: new Date(stat.mtimeMs) }),
      };
    }
    for await (const entry of directoryEntries(source.hostPath, {
      sys: this.sys,
      mode: 'plain',
      ...(this.mode === 'rootfs' && this.ids ? { ids: this.ids } : {}),
    })) {
      if (entry.header.type === 'character-device' || entry.header.type === 'block-device') continue;
      const header = own({ ...entry.header, name: `${prefix}${entry.header.name}` });
      if (header.type === 'link' && header.linkname !== undefined) header.linkname = `${prefix}${header.linkname}`;
      if (header.type === 'symlink' && owner.mode !== undefined) header.mode = 0o777;
      yield { ...entry, header };
    }
  }

  /** A hash of the sources' names, types, modes and contents: the cache key of a COPY or ADD. */
  async hash(sources: readonly ResolvedSource[]): Promise<string> {
    const hash = createHash('sha256');
    for (const source of sources) {
      hash.update(`source\0${source.path}\0`);
      for await (const entry of this.entries(source, '', { uid: 0, gid: 0 })) {
        const { header } = entry;
        hash.update(`${header.name}\0${header.type}\0${(header.mode ?? 0).toString(8)}\0${header.linkname ?? ''}\0`);
        if (header.type === 'file' && entry.body !== undefined) {
          const body = typeof entry.body === 'function' ? await entry.body() : [entry.body];
          for await (const chunk of body) hash.update(chunk);
        }
      }
    }
    return hash.digest('hex');
  }
}

export interface Owner {
  uid: number;
  gid: number;
  /** `--chmod`: the mode of every file and directory copied. */
  mode?: number;
}

/** Go's filepath.Match on a whole relative path: `*` and `?` never cross a `/`. */
export function globRegex(pattern: string): RegExp {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalidArgument(`syntax error in pattern ${JSON.stringify(pattern)}`);
      let set = pattern.slice(i + 1, end);
      if (set.startsWith('^') || set.startsWith('!')) set = `^${set.slice(1)}`;
      source += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (char === '\\' && i + 1 < pattern.length) {
      i++;
      source += pattern[i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${source}$`);
}
