/**
 * What one tar entry of a layer asks for, decided from its header alone, before anything
 * touches the disk. Names are checked here (no absolute paths, no `..`); what the disk holds
 * (symlinks on the way, existing files) is checked by the extractor when it applies the plan.
 * Whiteouts (AUFS-style, as in every Docker and OCI layer) become overlayfs whiteouts:
 * `.wh.name` a character device 0/0 named `name`, `.wh..wh..opq` an opaque directory.
 */
import { invalidArgument } from '../engine-error.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/** The header fields the planner reads (tar-stream's header, with PAX records). */
export interface TarEntryHeader {
  name: string;
  type?: string | null;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: Date;
  linkname?: string | null;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string> | null;
}

export interface EntryAttributes {
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  /** Extended attributes from PAX `SCHILY.xattr.*` records that the extractor may set. */
  xattrs: Record<string, string>;
}

/** `path` is relative to the target, '/'-separated, with no `.` or `..` components. */
export type EntryPlan =
  | { action: 'skip'; name: string; reason: string }
  | { action: 'root'; attributes: EntryAttributes }
  | { action: 'directory'; path: string; attributes: EntryAttributes }
  | { action: 'file'; path: string; size: number; attributes: EntryAttributes }
  | { action: 'symlink'; path: string; target: string; attributes: EntryAttributes }
  | { action: 'hardlink'; path: string; target: string; attributes: EntryAttributes }
  | {
      action: 'device';
      path: string;
      kind: 'char' | 'block';
      major: number;
      minor: number;
      attributes: EntryAttributes;
    }
  | { action: 'fifo'; path: string; attributes: EntryAttributes }
  /** A whiteout: hide `path` of the layers below. */
  | { action: 'whiteout'; path: string }
  /** Hide everything the layers below have under the directory `path` ('' is the root). */
  | { action: 'opaque'; path: string };

export interface PlanOptions {
  /** Turn `.wh.` entries into overlayfs whiteouts (layers) or keep them as files (plain archives). */
  whiteouts: boolean;
  /** Device nodes are refused unless allowed. */
  allowDevices: boolean;
}

/**
 * xattr namespaces a layer may set. overlayfs's own `trusted.overlay.*`, and `user.overlay.*`
 * (what it reads instead when mounted with `userxattr`), never come from a tar.
 */
const ALLOWED_XATTR = /^(user\.(?!overlay\.)|security\.capability$)/;

export function refuseEntry(name: string, reason: string): Error {
  return invalidArgument(`refusing tar entry ${JSON.stringify(name)}: ${reason}`);
}

/**
 * The components of an entry name: '' and '.' dropped (`./bin/` → ['bin']), absolute names and
 * `..` refused. A name that is only `.` or `./` yields [] (the target itself).
 */
export function entryPathComponents(path: string, entryName = path, role = 'path'): string[] {
  if (path.includes('\0')) throw refuseEntry(entryName, `${role} contains a NUL byte`);
  if (path.startsWith('/')) throw refuseEntry(entryName, `${role} is absolute`);
  const components = path.split('/').filter((component) => component !== '' && component !== '.');
  if (components.includes('..')) throw refuseEntry(entryName, `${role} has a ".." component`);
  return components;
}

export function planEntry(header: TarEntryHeader, options: PlanOptions): EntryPlan {
  const name = header.name;
  const type = header.type ?? 'file';
  if (
    type === 'pax-global-header' ||
    type === 'pax-header' ||
    type === 'gnu-long-path' ||
    type === 'gnu-long-link-path'
  ) {
    return { action: 'skip', name, reason: 'metadata entry' };
  }
  const components = entryPathComponents(name);
  const attributes = attributesOf(header);
  if (components.length === 0) {
    if (type !== 'directory') throw refuseEntry(name, `a ${type} cannot replace the target directory`);
    return { action: 'root', attributes };
  }
  const base = components[components.length - 1] ?? '';
  const parent = components.slice(0, -1);
  if (options.whiteouts && base === OPAQUE_WHITEOUT) return { action: 'opaque', path: parent.join('/') };
  // Other `.wh..wh.` names are AUFS bookkeeping (its hard link directory), not content.
  if (
    options.whiteouts &&
    components.some((component) => component.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`))
  ) {
    return { action: 'skip', name, reason: 'aufs metadata' };
  }
  if (options.whiteouts && base.startsWith(WHITEOUT_PREFIX)) {
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') throw refuseEntry(name, 'whiteout of an invalid name');
    return { action: 'whiteout', path: [...parent, hidden].join('/') };
  }
  const path = components.join('/');
  switch (type) {
    case 'directory':
      return { action: 'directory', path, attributes };
    case 'file':
    case 'contiguous-file':
      return { action: 'file', path, size: header.size ?? 0, attributes };
    case 'symlink':
      // The target is stored as written: a symlink is only followed later, inside the
      // container's root, or by the extractor, which checks every step it follows.
      if (!header.linkname) throw refuseEntry(name, 'symlink without a target');
      return { action: 'symlink', path, target: header.linkname, attributes };
    case 'link': {
      if (!header.linkname) throw refuseEntry(name, 'hard link without a target');
      const target = entryPathComponents(header.linkname, name, `hard link target ${JSON.stringify(header.linkname)}`);
      if (target.length === 0) throw refuseEntry(name, 'hard link to the target directory');
      return { action: 'hardlink', path, target: target.join('/'), attributes };
    }
    case 'character-device':
    case 'block-device':
      if (!options.allowDevices) throw refuseEntry(name, 'device nodes are not allowed here');
      return {
        action: 'device',
        path,
        kind: type === 'character-device' ? 'char' : 'block',
        major: header.devmajor ?? 0,
        minor: header.devminor ?? 0,
        attributes,
      };
    case 'fifo':
      return { action: 'fifo', path, attributes };
    default:
      throw refuseEntry(name, `unsupported entry type ${type}`);
  }
}

function attributesOf(header: TarEntryHeader): EntryAttributes {
  const xattrs: Record<string, string> = {};
  for (const [key, value] of Object.entries(header.pax ?? {})) {
    if (!key.startsWith('SCHILY.xattr.')) continue;
    const attribute = key.slice('SCHILY.xattr.'.length);
    // tar-stream decodes PAX values as UTF-8; a binary value that did not survive is dropped
    // rather than set wrong.
    if (ALLOWED_XATTR.test(attribute) && !value.includes('\uFFFD')) xattrs[attribute] = value;
  }
  return {
    mode: (header.mode ?? 0o644) & 0o7777,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    mtime: header.mtime ?? new Date(0),
    xattrs,
  };
}
