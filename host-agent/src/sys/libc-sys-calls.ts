/**
 * `SysCalls` for real: libc through koffi. This is the only module of the agent that imports
 * koffi (lint holds that). Calls are synchronous and short; errno is read right after each call,
 * before any other JS can run a libc call on this thread.
 */
import { closeSync, constants, lchownSync, lstatSync, openSync, statfsSync } from 'node:fs';
import koffi from 'koffi';

import {
  makeDevice,
  mountFlagBits,
  splitDevice,
  SysError,
  unmountFlagBits,
  type FileSystemUsage,
  type MountRequest,
  type NodeRequest,
  type NodeStat,
  type SysCalls,
  type UnmountFlag,
  type XattrMode,
} from './sys-calls.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const ENODATA = 61;
/** _IOR('f', 1, long) and _IOW('f', 2, long) on 64-bit Linux. */
const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;
/** What a filesystem without inode flags, or without this one, answers. */
const NO_FLAGS_ERRNOS = new Set([25 /* ENOTTY */, 95 /* EOPNOTSUPP */, 22 /* EINVAL */]);
const ERANGE = 34;

type Fn = (...args: unknown[]) => number | bigint;

interface Libc {
  mount: Fn;
  umount2: Fn;
  mknod: Fn;
  lsetxattr: Fn;
  lgetxattr: Fn;
  llistxattr: Fn;
  syncfs: Fn;
  ioctlInt: Fn;
}

let library: ReturnType<typeof koffi.load> | undefined;

/** The C library, loaded once for every module of src/sys that calls into it. */
export function libcLibrary(): ReturnType<typeof koffi.load> {
  library ??= koffi.load('libc.so.6');
  return library;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  const lib = libcLibrary();
  libc = {
    mount: lib.func(
      'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
    ) as Fn,
    umount2: lib.func('int umount2(const char *target, int flags)') as Fn,
    // dev_t is 64 bits wide on every Linux ABI the agent runs on.
    mknod: lib.func('int mknod(const char *path, unsigned int mode, uint64_t dev)') as Fn,
    lsetxattr: lib.func(
      'int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)',
    ) as Fn,
    lgetxattr: lib.func('intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)') as Fn,
    llistxattr: lib.func('intptr_t llistxattr(const char *path, void *list, size_t size)') as Fn,
    syncfs: lib.func('int syncfs(int fd)') as Fn,
    // FS_IOC_GETFLAGS and FS_IOC_SETFLAGS take a pointer to an int, whatever their numbers say.
    ioctlInt: lib.func('int ioctl(int fd, unsigned long request, _Inout_ int *value)') as Fn,
  };
  return libc;
}

/**
 * glibc's malloc_trim(0): the C heap (Node's buffers, zlib, TLS, libuv requests) gives its free
 * pages back to the kernel, which glibc's allocator otherwise keeps after a burst. Undefined where
 * the C library has none (musl).
 */
export function mallocTrimmer(): (() => void) | undefined {
  try {
    const trim = libcLibrary().func('int malloc_trim(size_t pad)') as (pad: number) => number;
    return () => void trim(0);
  } catch {
    return undefined;
  }
}

const EIO = 5;

function check(result: number | bigint, syscall: string, path: string, detail?: string): number {
  const value = Number(result);
  if (value < 0) throw new SysError(syscall, koffi.errno(), path, detail);
  return value;
}

function fromNode(syscall: string, path: string, error: unknown): never {
  const errno = (error as NodeJS.ErrnoException).errno;
  if (typeof errno === 'number') throw new SysError(syscall, Math.abs(errno), path);
  throw error;
}

export class LibcSysCalls implements SysCalls {
  mount({ source, target, fstype, flags, data }: MountRequest): void {
    const { mount } = loadLibc();
    check(
      mount(source, target, fstype === '' ? null : fstype, mountFlagBits(flags), data ?? null),
      'mount',
      target,
      `${fstype || source} on ${target}`,
    );
  }

  umount2(target: string, flags?: readonly UnmountFlag[]): void {
    check(loadLibc().umount2(target, unmountFlagBits(flags)), 'umount2', target);
  }

  mknod({ path, kind, permissions, major = 0, minor = 0 }: NodeRequest): void {
    const type = kind === 'char' ? S_IFCHR : kind === 'block' ? S_IFBLK : S_IFIFO;
    const device = kind === 'fifo' ? 0n : makeDevice(major, minor);
    check(loadLibc().mknod(path, type | (permissions & 0o7777), device), 'mknod', path);
  }

  lsetxattr(path: string, name: string, value: Uint8Array | string, mode: XattrMode = 'either'): void {
    const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
    const flags = mode === 'create' ? XATTR_CREATE : mode === 'replace' ? XATTR_REPLACE : 0;
    check(loadLibc().lsetxattr(path, name, bytes, bytes.length, flags), 'lsetxattr', path, `${name} of ${path}`);
  }

  lgetxattr(path: string, name: string): Buffer | undefined {
    const { lgetxattr } = loadLibc();
    // Ask for the size, then read; retry if the value grew in between (ERANGE).
    for (;;) {
      const size = Number(lgetxattr(path, name, null, 0));
      if (size < 0) {
        const errno = koffi.errno();
        if (errno === ENODATA) return undefined;
        throw new SysError('lgetxattr', errno, path, `${name} of ${path}`);
      }
      const buffer = Buffer.alloc(Math.max(size, 1));
      const read = Number(lgetxattr(path, name, buffer, buffer.length));
      if (read >= 0) return buffer.subarray(0, read);
      const errno = koffi.errno();
      if (errno === ENODATA) return undefined;
      if (errno !== ERANGE) throw new SysError('lgetxattr', errno, path, `${name} of ${path}`);
    }
  }

  llistxattr(path: string): string[] {
    const { llistxattr } = loadLibc();
    for (;;) {
      const size = check(llistxattr(path, null, 0), 'llistxattr', path);
      if (size === 0) return [];
      const buffer = Buffer.alloc(size);
      const read = Number(llistxattr(path, buffer, buffer.length));
      if (read < 0) {
        const errno = koffi.errno();
        if (errno === ERANGE) continue;
        throw new SysError('llistxattr', errno, path);
      }
      return buffer
        .subarray(0, read)
        .toString('utf8')
        .split('\0')
        .filter((name) => name !== '');
    }
  }

  lchown(path: string, uid: number, gid: number): void {
    try {
      lchownSync(path, uid, gid);
    } catch (error) {
      fromNode('lchown', path, error);
    }
  }

  lstat(path: string): NodeStat {
    try {
      const stat = lstatSync(path);
      const { major, minor } = splitDevice(stat.rdev);
      return {
        mode: stat.mode,
        rdevMajor: major,
        rdevMinor: minor,
        dev: stat.dev,
        ino: stat.ino,
        nlink: stat.nlink,
        uid: stat.uid,
        gid: stat.gid,
        size: stat.size,
        mtimeMs: stat.mtimeMs,
      };
    } catch (error) {
      fromNode('lstat', path, error);
    }
  }

  statfs(path: string): FileSystemUsage {
    try {
      const stats = statfsSync(path);
      return {
        type: stats.type,
        blockSize: stats.bsize,
        blocks: stats.blocks,
        blocksFree: stats.bfree,
        blocksAvailable: stats.bavail,
        files: stats.files,
        filesFree: stats.ffree,
      };
    } catch (error) {
      fromNode('statfs', path, error);
    }
  }

  markTopDirectory(path: string): boolean {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (error) {
      fromNode('ioctl', path, error);
    }
    try {
      const { ioctlInt } = loadLibc();
      const flags = [0];
      if (Number(ioctlInt(fd, FS_IOC_GETFLAGS, flags)) < 0) {
        const errno = koffi.errno();
        if (NO_FLAGS_ERRNOS.has(errno)) return false;
        throw new SysError('ioctl', errno, path, `FS_IOC_GETFLAGS of ${path}`);
      }
      const current = flags[0] ?? 0;
      if ((current & FS_TOPDIR_FL) !== 0) return true;
      if (Number(ioctlInt(fd, FS_IOC_SETFLAGS, [current | FS_TOPDIR_FL])) < 0) {
        const errno = koffi.errno();
        if (NO_FLAGS_ERRNOS.has(errno)) return false;
        throw new SysError('ioctl', errno, path, `FS_IOC_SETFLAGS of ${path}`);
      }
      return true;
    } finally {
      closeSync(fd);
    }
  }

  async syncfs(path: string): Promise<void> {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      fromNode('syncfs', path, error);
    }
    try {
      const { syncfs } = loadLibc();
      // koffi runs the call on a worker thread of the pool, so the writeback does not stop the event loop.
      const result = await new Promise<number>((resolve, reject) => {
        (syncfs as unknown as { async: (...args: unknown[]) => void }).async(fd, (error: unknown, value: number) => {
          if (error) reject(error instanceof Error ? error : new Error('koffi could not call syncfs'));
          else resolve(value);
        });
      });
      // errno stays on that thread; syncfs(2) fails with EIO (a write-back error) or EBADF, and fd is ours.
      if (result < 0) throw new SysError('syncfs', EIO, path);
    } finally {
      closeSync(fd);
    }
  }
}
