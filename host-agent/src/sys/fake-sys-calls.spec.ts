import { renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeSysCalls } from './fake-sys-calls.js';
import { isWhiteoutStat, makeDevice, mountFlagBits, splitDevice, SysError } from './sys-calls.js';

describe(FakeSysCalls.name, () => {
  let dir: string;
  let sys: FakeSysCalls;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-fake-sys-'));
    sys = new FakeSysCalls();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a node it made as a device, even after a rename', () => {
    sys.mknod({ path: join(dir, 'a'), kind: 'char', permissions: 0, major: 0, minor: 0 });
    renameSync(join(dir, 'a'), join(dir, 'b'));
    expect(isWhiteoutStat(sys.lstat(join(dir, 'b')))).toBe(true);
  });

  it('keeps xattrs per file and answers undefined for a missing one', () => {
    writeFileSync(join(dir, 'f'), '');
    sys.lsetxattr(join(dir, 'f'), 'user.a', 'b');
    expect(sys.lgetxattr(join(dir, 'f'), 'user.a')?.toString()).toBe('b');
    expect(sys.lgetxattr(join(dir, 'f'), 'user.none')).toBeUndefined();
    expect(sys.llistxattr(join(dir, 'f'))).toEqual(['user.a']);
  });

  it('fails mknod on an existing path with EEXIST, like the kernel', () => {
    writeFileSync(join(dir, 'f'), '');
    expect(() => sys.mknod({ path: join(dir, 'f'), kind: 'fifo', permissions: 0o644 })).toThrow(
      expect.objectContaining({ code: 'EEXIST', path: join(dir, 'f') }),
    );
  });

  it('fails a call when told to, with the errno name and the path', () => {
    sys.failOn('mount', 'EPERM');
    expect(() => sys.mount({ source: 'overlay', target: '/mnt/x', fstype: 'overlay' })).toThrow('mount /mnt/x: EPERM');
  });

  it('refuses to unmount what is not mounted (EINVAL)', () => {
    expect(() => sys.umount2('/nowhere')).toThrow(SysError);
  });
});

describe(makeDevice.name, () => {
  it('encodes and decodes glibc device numbers', () => {
    expect(makeDevice(1, 3)).toBe(0x103n);
    expect(splitDevice(makeDevice(259, 70000))).toEqual({ major: 259, minor: 70000 });
  });
});

describe(mountFlagBits.name, () => {
  it('ors the MS_ flags', () => {
    expect(mountFlagBits(['rdonly', 'nosuid', 'bind', 'rec'])).toBe(0x1 | 0x2 | 0x1000 | 0x4000);
  });
});
