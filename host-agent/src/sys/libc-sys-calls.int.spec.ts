/**
 * The syscall layer for real: root, a real overlayfs. Checks that whiteouts and opaque
 * directories made through it hide what the kernel should hide.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { LibcSysCalls } from './libc-sys-calls.js';
import { isWhiteoutStat, OVERLAY_OPAQUE_XATTR, SysError } from './sys-calls.js';

const OVERLAYFS_MAGIC = 0x794c7630;
const EXT4_SUPER_MAGIC = 0xef53;

/** The flag letters `lsattr -d` prints for a directory (e2fsprogs). */
function lsattrFlags(path: string): string {
  return execFileSync('lsattr', ['-d', path], { encoding: 'utf8' }).split(' ')[0] ?? '';
}

describe(LibcSysCalls.name, () => {
  const sys = new LibcSysCalls();
  let dir: string;
  const mounted: string[] = [];

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('these tests need root (mknod, trusted xattrs, mount)');
  });

  beforeEach(async () => {
    // Not under /tmp when /tmp is a tmpfs without trusted xattrs: next to the checkout.
    dir = await mkdtemp('/var/tmp/skiff-sys-');
  });

  afterEach(async () => {
    for (const target of mounted.splice(0)) sys.umount2(target, ['detach']);
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a whiteout: a character device 0/0', () => {
    sys.mknod({ path: join(dir, 'gone'), kind: 'char', permissions: 0, major: 0, minor: 0 });
    const stat = sys.lstat(join(dir, 'gone'));
    expect(isWhiteoutStat(stat)).toBe(true);
  });

  it('makes a fifo and a device with its numbers', () => {
    sys.mknod({ path: join(dir, 'pipe'), kind: 'fifo', permissions: 0o644 });
    sys.mknod({ path: join(dir, 'null'), kind: 'char', permissions: 0o666, major: 1, minor: 3 });
    expect(sys.lstat(join(dir, 'pipe')).mode & 0o170000).toBe(0o010000);
    expect(sys.lstat(join(dir, 'null'))).toMatchObject({ rdevMajor: 1, rdevMinor: 3 });
  });

  it('sets, reads and lists trusted xattrs of the path itself', () => {
    mkdirSync(join(dir, 'd'));
    sys.lsetxattr(join(dir, 'd'), OVERLAY_OPAQUE_XATTR, 'y');
    expect(sys.lgetxattr(join(dir, 'd'), OVERLAY_OPAQUE_XATTR)?.toString()).toBe('y');
    expect(sys.llistxattr(join(dir, 'd'))).toContain(OVERLAY_OPAQUE_XATTR);
    expect(sys.lgetxattr(join(dir, 'd'), 'trusted.none')).toBeUndefined();
  });

  it('names the errno and the path in its errors', () => {
    const missing = join(dir, 'missing');
    expect(() => sys.lsetxattr(missing, 'user.a', 'b')).toThrow(`lsetxattr user.a of ${missing}: ENOENT`);
    expect(() => sys.mknod({ path: join(dir, 'no/such/dir'), kind: 'fifo', permissions: 0o600 })).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'mknod' }),
    );
    expect(() => sys.umount2(dir)).toThrow(SysError);
  });

  it('mounts an overlay in which whiteouts hide lower files and opaque directories hide lower content', () => {
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    const merged = join(dir, 'merged');
    for (const path of [join(lower, 'etc'), join(lower, 'cache'), upper, work, merged])
      mkdirSync(path, { recursive: true });
    writeFileSync(join(lower, 'etc/passwd'), 'root');
    writeFileSync(join(lower, 'etc/group'), 'root');
    writeFileSync(join(lower, 'cache/old'), 'old');
    mkdirSync(join(upper, 'etc'));
    sys.mknod({ path: join(upper, 'etc/passwd'), kind: 'char', permissions: 0, major: 0, minor: 0 });
    mkdirSync(join(upper, 'cache'));
    sys.lsetxattr(join(upper, 'cache'), OVERLAY_OPAQUE_XATTR, 'y');
    writeFileSync(join(upper, 'cache/new'), 'new');

    sys.mount({
      source: 'overlay',
      target: merged,
      fstype: 'overlay',
      data: `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
    });
    mounted.push(merged);

    expect(sys.statfs(merged).type).toBe(OVERLAYFS_MAGIC);
    expect(existsSync(join(merged, 'etc/passwd'))).toBe(false);
    expect(readFileSync(join(merged, 'etc/group'), 'utf8')).toBe('root');
    expect(readdirSync(join(merged, 'cache'))).toEqual(['new']);
  });

  it('marks a directory as the top of a hierarchy for the ext4 allocator (chattr +T), where the filesystem can', () => {
    mkdirSync(join(dir, 'layers'));
    const ext4 = sys.statfs(dir).type === EXT4_SUPER_MAGIC;
    expect(sys.markTopDirectory(join(dir, 'layers'))).toBe(ext4);
    // lsattr reads the flags back on its own; a second call is harmless.
    if (ext4) {
      expect(lsattrFlags(join(dir, 'layers'))).toContain('T');
      expect(sys.markTopDirectory(join(dir, 'layers'))).toBe(true);
      expect(lsattrFlags(join(dir, 'layers'))).toContain('T');
    }
    // /dev/shm is a tmpfs: no inode flags there.
    expect(sys.markTopDirectory('/dev/shm')).toBe(false);
    writeFileSync(join(dir, 'file'), '');
    expect(() => sys.markTopDirectory(join(dir, 'file'))).toThrow(`ioctl ${join(dir, 'file')}: ENOTDIR`);
    expect(() => sys.markTopDirectory(join(dir, 'missing'))).toThrow(`ioctl ${join(dir, 'missing')}: ENOENT`);
  });

  it('flushes a filesystem', async () => {
    await expect(sys.syncfs(dir)).resolves.toBeUndefined();
  });

  it('reports disk usage', () => {
    const usage = sys.statfs(dir);
    expect(usage.blockSize).toBeGreaterThan(0);
    expect(usage.blocks).toBeGreaterThanOrEqual(usage.blocksFree);
  });
});
