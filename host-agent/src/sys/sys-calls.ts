/**
 * The few libc calls the agent makes itself (the rest of the kernel work is done by skiff-shim).
 * Everything that mounts, makes device nodes or touches xattrs goes through this interface, so
 * unit tests run against `FakeSysCalls` without root and integration tests against `LibcSysCalls`.
 * All calls are synchronous: each is a single fast syscall, and koffi's async calls share a small
 * worker pool that a slow caller could exhaust.
 */
import { getSystemErrorName } from 'node:util';

/** MS_* flags of mount(2), named without the prefix. */
export const MOUNT_FLAG_BITS = {
  rdonly: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  synchronous: 0x10,
  remount: 0x20,
  mandlock: 0x40,
  dirsync: 0x80,
  nosymfollow: 0x100,
  noatime: 0x400,
  nodiratime: 0x800,
  bind: 0x1000,
  move: 0x2000,
  rec: 0x4000,
  silent: 0x8000,
  unbindable: 0x20000,
  private: 0x40000,
  slave: 0x80000,
  shared: 0x100000,
  relatime: 0x200000,
  strictatime: 0x1000000,
  lazytime: 0x2000000,
} as const;

export type MountFlag = keyof typeof MOUNT_FLAG_BITS;

/** MNT_* / UMOUNT_* flags of umount2(2). */
export const UNMOUNT_FLAG_BITS = {
  force: 0x1,
  detach: 0x2,
  expire: 0x4,
  nofollow: 0x8,
} as const;

export type UnmountFlag = keyof typeof UNMOUNT_FLAG_BITS;

export interface MountRequest {
  /** e.g. `overlay`, a device, or the source directory of a bind mount. */
  source: string;
  target: string;
  /** e.g. `overlay`, `tmpfs`; empty for bind mounts and remounts. */
  fstype: string;
  flags?: readonly MountFlag[];
  /** Filesystem options, e.g. `lowerdir=…,upperdir=…,workdir=…`. */
  data?: string;
}

/** The kinds of node mknod(2) makes here; regular files and directories go through node:fs. */
export type NodeKind = 'char' | 'block' | 'fifo';

export interface NodeRequest {
  path: string;
  kind: NodeKind;
  /** Permission bits, e.g. 0o666 (mknod applies the umask to them). */
  permissions: number;
  major?: number;
  minor?: number;
}

export type XattrMode = 'create' | 'replace' | 'either';

/** What lstat(2) says about one path, enough to tell whiteouts and to compare files. */
export interface NodeStat {
  /** st_mode: type and permission bits. */
  mode: number;
  /** Major and minor of st_rdev (0 for anything but devices). */
  rdevMajor: number;
  rdevMinor: number;
  dev: number;
  ino: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
}

export interface FileSystemUsage {
  /** f_type, e.g. 0x794c7630 for overlayfs, 0xef53 for ext4. */
  type: number;
  blockSize: number;
  blocks: number;
  blocksFree: number;
  /** Blocks free for unprivileged users. */
  blocksAvailable: number;
  files: number;
  filesFree: number;
}

export interface SysCalls {
  mount(request: MountRequest): void;
  umount2(target: string, flags?: readonly UnmountFlag[]): void;
  mknod(request: NodeRequest): void;
  /** Sets an extended attribute of the path itself, never of a symlink's target. */
  lsetxattr(path: string, name: string, value: Uint8Array | string, mode?: XattrMode): void;
  /** The attribute's value, or undefined when the path has no such attribute (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | undefined;
  llistxattr(path: string): string[];
  lchown(path: string, uid: number, gid: number): void;
  lstat(path: string): NodeStat;
  statfs(path: string): FileSystemUsage;
  /**
   * Flushes the whole filesystem that holds `path` (one call instead of an fsync per file), in
   * the thread pool: the writeback of a big pull does not stop the event loop.
   */
  syncfs(path: string): Promise<void>;
  /**
   * Marks a directory as the top of directory hierarchies for ext4's Orlov allocator (`chattr +T`):
   * each new subdirectory is placed in a block group of its own choosing, with its files, instead
   * of next to the parent. False where the filesystem has no such flag (only ext2, 3 and 4 do).
   */
  markTopDirectory(path: string): boolean;
}

/** S_IF* file type bits of st_mode. */
export const FILE_TYPE = {
  mask: 0o170000,
  socket: 0o140000,
  symlink: 0o120000,
  regular: 0o100000,
  block: 0o060000,
  directory: 0o040000,
  char: 0o020000,
  fifo: 0o010000,
} as const;

/** `overlayfs` marks a deleted path with a character device 0/0 of the same name. */
export function isWhiteoutStat(stat: NodeStat): boolean {
  return (stat.mode & FILE_TYPE.mask) === FILE_TYPE.char && stat.rdevMajor === 0 && stat.rdevMinor === 0;
}

export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** The same mark on layers mounted with `userxattr` (an overlay mounted in a user namespace). */
export const USER_OVERLAY_OPAQUE_XATTR = 'user.overlay.opaque';

/** The opaque-directory xattr of an overlay mounted with or without `userxattr`. */
export function overlayOpaqueXattr(userxattr: boolean): string {
  return userxattr ? USER_OVERLAY_OPAQUE_XATTR : OVERLAY_OPAQUE_XATTR;
}

/**
 * A failed syscall. `code` is the errno name (EPERM, ENOENT …) like Node's own errors, so
 * callers test `error.code` the same way for both.
 */
export class SysError extends Error {
  readonly code: string;

  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly path: string,
    detail?: string,
  ) {
    const code = errnoName(errno);
    super(`${syscall} ${detail ?? path}: ${code}`);
    this.name = 'SysError';
    this.code = code;
  }
}

export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `errno ${errno}`;
  }
}

export function mountFlagBits(flags: readonly MountFlag[] = []): number {
  return flags.reduce((bits, flag) => bits | MOUNT_FLAG_BITS[flag], 0);
}

export function unmountFlagBits(flags: readonly UnmountFlag[] = []): number {
  return flags.reduce((bits, flag) => bits | UNMOUNT_FLAG_BITS[flag], 0);
}

/** glibc's makedev(3) for the 64-bit dev_t of Linux. */
export function makeDevice(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** glibc's major(3) and minor(3). */
export function splitDevice(device: number | bigint): { major: number; minor: number } {
  const dev = BigInt(device);
  const major = ((dev >> 32n) & 0xfffff000n) | ((dev >> 8n) & 0xfffn);
  const minor = ((dev >> 12n) & 0xffffff00n) | (dev & 0xffn);
  return { major: Number(major), minor: Number(minor) };
}
