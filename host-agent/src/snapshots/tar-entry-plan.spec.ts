import { describe, expect, it } from 'vitest';

import { entryPathComponents, planEntry, type PlanOptions } from './tar-entry-plan.js';

const layer: PlanOptions = { whiteouts: true, allowDevices: false };

describe(planEntry.name, () => {
  it('plans a regular file with its mode, owner and time', () => {
    const mtime = new Date('2024-01-01T00:00:00Z');
    expect(
      planEntry({ name: './bin/busybox', type: 'file', mode: 0o4755, uid: 1, gid: 2, size: 10, mtime }, layer),
    ).toEqual({
      action: 'file',
      path: 'bin/busybox',
      size: 10,
      attributes: { mode: 0o4755, uid: 1, gid: 2, mtime, xattrs: {} },
    });
  });

  it('turns .wh.name into a whiteout of name', () => {
    expect(planEntry({ name: 'etc/.wh.passwd', type: 'file' }, layer)).toEqual({
      action: 'whiteout',
      path: 'etc/passwd',
    });
  });

  it('turns .wh..wh..opq into an opaque directory', () => {
    expect(planEntry({ name: 'var/cache/.wh..wh..opq', type: 'file' }, layer)).toEqual({
      action: 'opaque',
      path: 'var/cache',
    });
  });

  it('makes the root opaque for a top-level .wh..wh..opq', () => {
    expect(planEntry({ name: '.wh..wh..opq', type: 'file' }, layer)).toEqual({ action: 'opaque', path: '' });
  });

  it('skips AUFS hard link bookkeeping', () => {
    expect(planEntry({ name: '.wh..wh.plnk/12.34', type: 'file' }, layer).action).toBe('skip');
  });

  it('keeps .wh. files as files when whiteouts are off (a plain archive)', () => {
    expect(planEntry({ name: 'a/.wh.b', type: 'file' }, { ...layer, whiteouts: false })).toMatchObject({
      action: 'file',
      path: 'a/.wh.b',
    });
  });

  it('refuses a whiteout of ..', () => {
    expect(() => planEntry({ name: 'a/.wh...', type: 'file' }, layer)).toThrow(/whiteout of an invalid name/);
  });

  it('refuses device nodes unless allowed', () => {
    const header = { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 };
    expect(() => planEntry(header, layer)).toThrow('refusing tar entry "dev/sda": device nodes are not allowed here');
    expect(planEntry(header, { ...layer, allowDevices: true })).toMatchObject({
      action: 'device',
      kind: 'block',
      major: 8,
    });
  });

  it('refuses a hard link whose target climbs out', () => {
    expect(() => planEntry({ name: 'x', type: 'link', linkname: '../../etc/shadow' }, layer)).toThrow(
      /refusing tar entry "x": hard link target "..\/..\/etc\/shadow" has a ".." component/,
    );
  });

  it('refuses an absolute hard link target', () => {
    expect(() => planEntry({ name: 'x', type: 'link', linkname: '/etc/shadow' }, layer)).toThrow(/is absolute/);
  });

  it('keeps a symlink target as written, absolute or not', () => {
    expect(planEntry({ name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' }, layer)).toMatchObject({
      action: 'symlink',
      target: '/bin/busybox',
    });
  });

  it('treats ./ as the root directory', () => {
    expect(planEntry({ name: './', type: 'directory', mode: 0o755 }, layer).action).toBe('root');
  });

  it('keeps only user and capability xattrs from PAX records', () => {
    const plan = planEntry(
      {
        name: 'bin/ping',
        type: 'file',
        pax: {
          'SCHILY.xattr.user.note': 'hello',
          'SCHILY.xattr.security.capability': '\u0001\u0000\u0000\u0002',
          'SCHILY.xattr.trusted.overlay.opaque': 'y',
          'SCHILY.xattr.security.selinux': 'system_u',
        },
      },
      layer,
    );
    expect(plan.action === 'file' && plan.attributes.xattrs).toEqual({
      'user.note': 'hello',
      'security.capability': '\u0001\u0000\u0000\u0002',
    });
  });
});

describe(entryPathComponents.name, () => {
  it('drops empty and . components', () => {
    expect(entryPathComponents('./a//b/./c/')).toEqual(['a', 'b', 'c']);
  });

  it('refuses absolute names', () => {
    expect(() => entryPathComponents('/etc/passwd')).toThrow('refusing tar entry "/etc/passwd": path is absolute');
  });

  it('refuses .. anywhere', () => {
    expect(() => entryPathComponents('a/../../etc/x')).toThrow(/has a "\.\." component/);
    expect(() => entryPathComponents('../../etc/x')).toThrow(/has a "\.\." component/);
  });

  it('refuses NUL bytes', () => {
    expect(() => entryPathComponents('a\0b')).toThrow(/NUL/);
  });
});
