/**
 * A recording `SysCalls` for unit tests: no root needed. Mounts only go into a table. Device
 * nodes become empty regular files whose inode the fake remembers, and xattrs and owners are kept
 * per inode, so they follow renames the way the real ones do; `lstat` reports them as the kernel
 * would. A test can make any call fail with an errno.
 */
import { closeSync, lstatSync, openSync } from 'node:fs';
import { constants } from 'node:os';

import {
  FILE_TYPE,
  SysError,
  type FileSystemUsage,
  type MountRequest,
  type NodeKind,
  type NodeRequest,
  type NodeStat,
  type SysCalls,
  type UnmountFlag,
  type XattrMode,
} from './sys-calls.js';

export type RecordedCall =
  | { call: 'mount'; request: MountRequest }
  | { call: 'umount2'; target: string; flags: readonly UnmountFlag[] }
  | { call: 'mknod'; request: NodeRequest }
  | { call: 'lsetxattr'; path: string; name: string; value: Buffer }
  | { call: 'lchown'; path: string; uid: number; gid: number }
  | { call: 'syncfs'; path: string }
  | { call: 'markTopDirectory'; path: string };

export type SysCallName = keyof SysCalls;

interface FakeNode {
  kind: NodeKind;
  major: number;
  minor: number;
  permissions: number;
}

interface Failure {
  syscall: SysCallName;
  errno: number;
  matches: (path: string) => boolean;
}

const errnoOf = (name: string): number => (constants.errno as Record<string, number>)[name] ?? 1;

export class FakeSysCalls implements SysCalls {
  readonly calls: RecordedCall[] = [];
  /** target → the mount on it, in mount order. */
  readonly mounts = new Map<string, MountRequest>();
  private readonly nodes = new Map<string, FakeNode>();
  private readonly xattrs = new Map<string, Map<string, Buffer>>();
  private readonly owners = new Map<string, { uid: number; gid: number }>();
  private readonly failures: Failure[] = [];

  constructor(
    private readonly usage: FileSystemUsage = {
      type: 0xef53,
      blockSize: 4096,
      blocks: 1_000_000,
      blocksFree: 500_000,
      blocksAvailable: 450_000,
      files: 100_000,
      filesFree: 90_000,
    },
  ) {}

  /** Makes every later call of `syscall` (on a path containing `pathPart`, if given) fail. */
  failOn(syscall: SysCallName, errnoName: string, pathPart?: string): void {
    this.failures.push({
      syscall,
      errno: errnoOf(errnoName),
      matches: (path) => pathPart === undefined || path.includes(pathPart),
    });
  }

  mount(request: MountRequest): void {
    this.maybeFail('mount', request.target);
    this.calls.push({ call: 'mount', request });
    this.mounts.set(request.target, request);
  }

  umount2(target: string, flags: readonly UnmountFlag[] = []): void {
    this.maybeFail('umount2', target);
    if (!this.mounts.has(target)) throw new SysError('umount2', errnoOf('EINVAL'), target);
    this.calls.push({ call: 'umount2', target, flags });
    this.mounts.delete(target);
  }

  mknod(request: NodeRequest): void {
    this.maybeFail('mknod', request.path);
    let fd: number;
    try {
      fd = openSync(request.path, 'wx', request.permissions & 0o777);
    } catch (error) {
      throw new SysError('mknod', Math.abs((error as NodeJS.ErrnoException).errno ?? 1), request.path);
    }
    closeSync(fd);
    this.calls.push({ call: 'mknod', request });
    this.nodes.set(this.inodeKey(request.path), {
      kind: request.kind,
      major: request.major ?? 0,
      minor: request.minor ?? 0,
      permissions: request.permissions,
    });
  }

  lsetxattr(path: string, name: string, value: Uint8Array | string, mode: XattrMode = 'either'): void {
    this.maybeFail('lsetxattr', path);
    const key = this.inodeKey(path);
    const attributes = this.xattrs.get(key) ?? new Map<string, Buffer>();
    if (mode === 'create' && attributes.has(name)) throw new SysError('lsetxattr', errnoOf('EEXIST'), path);
    if (mode === 'replace' && !attributes.has(name)) throw new SysError('lsetxattr', errnoOf('ENODATA'), path);
    const bytes = Buffer.from(value);
    attributes.set(name, bytes);
    this.xattrs.set(key, attributes);
    this.calls.push({ call: 'lsetxattr', path, name, value: bytes });
  }

  lgetxattr(path: string, name: string): Buffer | undefined {
    this.maybeFail('lgetxattr', path);
    return this.xattrs.get(this.inodeKey(path))?.get(name);
  }

  llistxattr(path: string): string[] {
    this.maybeFail('llistxattr', path);
    return [...(this.xattrs.get(this.inodeKey(path))?.keys() ?? [])];
  }

  lchown(path: string, uid: number, gid: number): void {
    this.maybeFail('lchown', path);
    this.owners.set(this.inodeKey(path), { uid, gid });
    this.calls.push({ call: 'lchown', path, uid, gid });
  }

  lstat(path: string): NodeStat {
    this.maybeFail('lstat', path);
    const stat = this.realLstat('lstat', path);
    const key = FakeSysCalls.keyOf(path);
    const node = this.nodes.get(key);
    const owner = this.owners.get(key);
    const typeBits =
      node === undefined
        ? stat.mode & FILE_TYPE.mask
        : node.kind === 'char'
          ? FILE_TYPE.char
          : node.kind === 'block'
            ? FILE_TYPE.block
            : FILE_TYPE.fifo;
    return {
      mode: typeBits | (stat.mode & 0o7777),
      rdevMajor: node?.major ?? 0,
      rdevMinor: node?.minor ?? 0,
      dev: stat.dev,
      ino: stat.ino,
      nlink: stat.nlink,
      uid: owner?.uid ?? stat.uid,
      gid: owner?.gid ?? stat.gid,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
    };
  }

  statfs(path: string): FileSystemUsage {
    this.maybeFail('statfs', path);
    return { ...this.usage };
  }

  syncfs(path: string): Promise<void> {
    try {
      this.maybeFail('syncfs', path);
      this.realLstat('syncfs', path);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(`syncfs of ${path} failed`));
    }
    this.calls.push({ call: 'syncfs', path });
    return Promise.resolve();
  }

  markTopDirectory(path: string): boolean {
    this.maybeFail('markTopDirectory', path);
    if (!this.realLstat('markTopDirectory', path).isDirectory()) {
      throw new SysError('ioctl', errnoOf('ENOTDIR'), path);
    }
    this.calls.push({ call: 'markTopDirectory', path });
    return true;
  }

  /** The calls of one kind, for assertions. */
  callsOf<K extends RecordedCall['call']>(call: K): Extract<RecordedCall, { call: K }>[] {
    return this.calls.filter((recorded): recorded is Extract<RecordedCall, { call: K }> => recorded.call === call);
  }

  /** Inode plus birth time, so a recycled inode number is not mistaken for an old node. */
  private inodeKey(path: string): string {
    this.realLstat('lstat', path);
    return FakeSysCalls.keyOf(path);
  }

  private static keyOf(path: string): string {
    const stat = lstatSync(path, { bigint: true });
    return `${stat.dev}:${stat.ino}:${stat.birthtimeNs}`;
  }

  private realLstat(syscall: string, path: string) {
    try {
      return lstatSync(path);
    } catch (error) {
      throw new SysError(syscall, Math.abs((error as NodeJS.ErrnoException).errno ?? 1), path);
    }
  }

  private maybeFail(syscall: SysCallName, path: string): void {
    const failure = this.failures.find((candidate) => candidate.syscall === syscall && candidate.matches(path));
    if (failure) throw new SysError(syscall, failure.errno, path);
  }
}
