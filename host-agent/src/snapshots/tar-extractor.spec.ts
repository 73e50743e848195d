import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeSysCalls } from '../sys/fake-sys-calls.js';
import { isWhiteoutStat, OVERLAY_OPAQUE_XATTR, USER_OVERLAY_OPAQUE_XATTR } from '../sys/sys-calls.js';
import { IdMap } from '../userns/id-map.js';
import { extractTar, type ExtractOptions } from './tar-extractor.js';
import { tarBuffer, type TarEntry } from './tar-packer.js';

const file = (name: string, content: string, mode = 0o644): TarEntry => ({
  header: { name, type: 'file', mode },
  body: content,
});
const dir = (name: string, mode = 0o755): TarEntry => ({ header: { name, type: 'directory', mode } });
const symlink = (name: string, target: string): TarEntry => ({ header: { name, type: 'symlink', linkname: target } });
const hardlink = (name: string, target: string): TarEntry => ({ header: { name, type: 'link', linkname: target } });

async function* chunks(buffer: Buffer): AsyncGenerator<Buffer> {
  // Small chunks, so entries straddle them the way a network stream does.
  for (let offset = 0; offset < buffer.length; offset += 700)
    yield await Promise.resolve(buffer.subarray(offset, offset + 700));
}

describe(extractTar.name, () => {
  let base: string;
  let target: string;
  let outside: string;
  let sys: FakeSysCalls;
  let options: ExtractOptions;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'skiff-extract-'));
    target = join(base, 'layers', 'diff');
    outside = join(base, 'outside');
    mkdirSync(join(base, 'layers'));
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'keep me');
    sys = new FakeSysCalls();
    options = { sys, preserveOwnership: true };
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function extract(entries: TarEntry[], extra: Partial<ExtractOptions> = {}) {
    return extractTar(chunks(await tarBuffer(entries)), target, { ...options, ...extra });
  }

  it('writes every byte of files just under, at and over the size written on this thread, from 700-byte pieces', async () => {
    const MiB = 1024 * 1024;
    const sizes = { under: MiB - 1, at: MiB, over: MiB + 1, big: 3 * MiB + 5, empty: 0 };
    const bodies = Object.fromEntries(
      Object.entries(sizes).map(([name, size]) => [
        name,
        Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + size) % 251)),
      ]),
    );
    // 700-byte pieces: 1 MiB is 1498 of them, more than one writev takes (IOV_MAX), on either path.
    const result = await extract(
      Object.entries(bodies).map(([name, body]) => ({ header: { name, type: 'file', mode: 0o640 }, body })),
    );
    for (const [name, body] of Object.entries(bodies)) {
      expect(readFileSync(join(target, name)).equals(body)).toBe(true);
      expect(lstatSync(join(target, name)).mode & 0o7777).toBe(0o640);
    }
    expect(result.size).toBe(Object.values(sizes).reduce((sum, size) => sum + size, 0));
    // under, at and empty on the event loop; over and big through the thread pool.
    expect(result.filesWrittenOnLoop).toBe(3);
  });

  it('sends the rest of an archive through the thread pool once a small write on the event loop was slow', async () => {
    const entries = ['a', 'b', 'c'].map((name) => file(name, `${name}`.repeat(1000)));
    expect((await extract(entries)).filesWrittenOnLoop).toBe(3);
    await rm(target, { recursive: true });
    // Every write takes longer than -1 ms: the first file is the last one written on the loop.
    const result = await extract(entries, { slowWriteMs: -1 });
    expect(result.filesWrittenOnLoop).toBe(1);
    for (const name of ['a', 'b', 'c']) expect(readFileSync(join(target, name), 'utf8')).toBe(name.repeat(1000));
  });

  /** A refused archive leaves neither the target nor a staging directory, and outside as it was. */
  function expectNothingWritten(): void {
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(base, 'layers'))).toEqual([]);
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('keep me');
    expect(lstatSync(join(outside, 'secret')).nlink).toBe(1);
  }

  it('unpacks files, directories, symlinks and hard links with their modes', async () => {
    const result = await extract([
      dir('bin/'),
      file('bin/busybox', 'BUSYBOX', 0o755),
      symlink('bin/sh', 'busybox'),
      hardlink('bin/ash', 'bin/busybox'),
      dir('tmp/', 0o1777),
      file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'),
    ]);
    expect(readFileSync(join(target, 'bin/busybox'), 'utf8')).toBe('BUSYBOX');
    expect(lstatSync(join(target, 'bin/busybox')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(target, 'bin/sh'))).toBe('busybox');
    expect(lstatSync(join(target, 'bin/ash')).ino).toBe(lstatSync(join(target, 'bin/busybox')).ino);
    expect(lstatSync(join(target, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(join(target, 'etc/passwd'), 'utf8')).toContain('root');
    expect(result.size).toBe('BUSYBOX'.length + 'root:x:0:0::/root:/bin/sh\n'.length);
  });

  it('returns the sha256 of the whole tar stream (the diff id)', async () => {
    const tar = await tarBuffer([file('a', 'x')]);
    const result = await extractTar(chunks(tar), target, options);
    expect(result.digest).toBe(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
  });

  it('sets directory times after their children are written', async () => {
    const mtime = new Date('2020-02-02T00:00:00Z');
    await extract([{ header: { name: 'd/', type: 'directory', mtime } }, file('d/f', 'x')]);
    expect(lstatSync(join(target, 'd')).mtime.getTime()).toBe(mtime.getTime());
  });

  it('records the owner of each entry', async () => {
    await extract([{ header: { name: 'f', type: 'file', uid: 1000, gid: 100 }, body: 'x' }]);
    expect(sys.callsOf('lchown')).toEqual([
      { call: 'lchown', path: expect.stringMatching(/\/f$/), uid: 1000, gid: 100 },
    ]);
  });

  it('refuses ../../etc/x and writes nothing', async () => {
    await expect(extract([file('ok', 'fine'), file('../../outside/x', 'evil')])).rejects.toThrow(
      'refusing tar entry "../../outside/x": path has a ".." component',
    );
    expectNothingWritten();
  });

  it('refuses an absolute name and writes nothing', async () => {
    await expect(extract([file('ok', 'fine'), file(`${outside}/abs`, 'evil')])).rejects.toThrow(/path is absolute/);
    expectNothingWritten();
  });

  it('refuses writing through a symlink to an absolute path (evil -> /etc, evil/passwd)', async () => {
    await expect(extract([symlink('evil', outside), file('evil/passwd', 'evil')])).rejects.toThrow(
      `refusing tar entry "evil/passwd": "evil" is a symlink to ${outside}, out of the target`,
    );
    expectNothingWritten();
  });

  it('refuses writing through a relative symlink that climbs out', async () => {
    await expect(extract([symlink('up', '../../outside'), file('up/x', 'evil')])).rejects.toThrow(
      /"up" is a symlink to \.\.\/\.\.\/outside, out of the target/,
    );
    expectNothingWritten();
  });

  it('refuses a chain of symlinks that ends outside', async () => {
    await expect(
      extract([dir('a/'), symlink('a/b', '../c'), symlink('c', 'd/../..'), file('a/b/x', 'evil')]),
    ).rejects.toThrow(/refusing tar entry "a\/b\/x": "c" is a symlink to d\/\.\.\/\.\., out of the target/);
    expectNothingWritten();
  });

  it('refuses a directory entry under an escaping symlink', async () => {
    await expect(extract([symlink('evil', outside), dir('evil/sub/')])).rejects.toThrow(/out of the target/);
    expectNothingWritten();
  });

  it('refuses a whiteout through an escaping symlink', async () => {
    await expect(extract([symlink('evil', outside), file('evil/.wh.secret', '')])).rejects.toThrow(/out of the target/);
    expectNothingWritten();
    expect(sys.callsOf('mknod')).toEqual([]);
  });

  it('refuses an opaque marker through an escaping symlink', async () => {
    await expect(extract([symlink('evil', outside), file('evil/.wh..wh..opq', '')])).rejects.toThrow(
      /out of the target/,
    );
    expectNothingWritten();
    expect(sys.callsOf('lsetxattr')).toEqual([]);
  });

  it('refuses a hard link that climbs out', async () => {
    await expect(extract([hardlink('x', '../../outside/secret')])).rejects.toThrow(
      /hard link target .* has a "\.\." component/,
    );
    expectNothingWritten();
  });

  it('refuses a hard link through an escaping symlink', async () => {
    await expect(extract([symlink('evil', outside), hardlink('x', 'evil/secret')])).rejects.toThrow(
      /refusing tar entry "x": "evil" is a symlink to .*, out of the target/,
    );
    expectNothingWritten();
  });

  it('refuses a hard link to a missing file', async () => {
    await expect(extract([hardlink('x', 'nothing')])).rejects.toThrow(/hard link target "nothing" does not exist/);
    expectNothingWritten();
  });

  it('replaces a symlink by a later file instead of writing through it', async () => {
    await extract([symlink('link', join(outside, 'secret')), file('link', 'mine')]);
    expect(lstatSync(join(target, 'link')).isFile()).toBe(true);
    expect(readFileSync(join(target, 'link'), 'utf8')).toBe('mine');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('keep me');
  });

  it('never sets a directory time through a symlink that replaced the directory later', async () => {
    const before = lstatSync(outside).mtimeMs;
    const old = new Date('2001-01-01T00:00:00Z');
    await extract([
      { header: { name: 'd/', type: 'directory', mtime: old } },
      { header: { name: 'd/sub/', type: 'directory', mtime: old } },
      symlink('d', outside),
    ]);
    expect(lstatSync(outside).mtimeMs).toBe(before);
    expect(readlinkSync(join(target, 'd'))).toBe(outside);
  });

  it('follows a symlink that stays inside the target', async () => {
    await extract([dir('usr/lib/'), symlink('lib', 'usr/lib'), file('lib/libc.so', 'libc')]);
    expect(readFileSync(join(target, 'usr/lib/libc.so'), 'utf8')).toBe('libc');
  });

  it('refuses device nodes by default and writes nothing', async () => {
    await expect(
      extract([file('ok', 'x'), { header: { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 } }]),
    ).rejects.toThrow('refusing tar entry "dev/mem": device nodes are not allowed here');
    expectNothingWritten();
  });

  it('makes device nodes when allowed', async () => {
    await extract([{ header: { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 } }], {
      allowDevices: true,
    });
    expect(sys.callsOf('mknod')).toEqual([
      {
        call: 'mknod',
        request: { path: expect.stringMatching(/dev\/null$/), kind: 'char', permissions: 0o666, major: 1, minor: 3 },
      },
    ]);
  });

  it('turns .wh.name into a character device 0/0 named name', async () => {
    await extract([dir('etc/'), file('etc/.wh.passwd', '')]);
    expect(existsSync(join(target, 'etc/.wh.passwd'))).toBe(false);
    expect(isWhiteoutStat(sys.lstat(join(target, 'etc/passwd')))).toBe(true);
  });

  it('marks a directory opaque for .wh..wh..opq', async () => {
    await extract([dir('var/cache/'), file('var/cache/.wh..wh..opq', ''), file('var/cache/new', 'n')]);
    expect(existsSync(join(target, 'var/cache/.wh..wh..opq'))).toBe(false);
    expect(sys.lgetxattr(join(target, 'var/cache'), OVERLAY_OPAQUE_XATTR)?.toString()).toBe('y');
    expect(readFileSync(join(target, 'var/cache/new'), 'utf8')).toBe('n');
  });

  describe('with a user namespace remapping', () => {
    const ids = new IdMap(
      [{ insideId: 0, outsideId: 100000, count: 65536 }],
      [{ insideId: 0, outsideId: 200000, count: 65536 }],
    );

    it('stores owners as host ids, and gives what keeps no owner to the container root', async () => {
      await extract([{ header: { name: 'a/f', type: 'file', uid: 1000, gid: 100 }, body: 'x' }], { ids });
      expect(
        sys.callsOf('lchown').map((call) => [call.path.slice(call.path.lastIndexOf('/') + 1), call.uid, call.gid]),
      ).toEqual([
        [expect.stringMatching(/staging/), 100000, 200000],
        ['a', 100000, 200000],
        ['f', 101000, 200100],
      ]);
    });

    it('chowns to the container root when owners are not kept (docker cp without -a)', async () => {
      await extract([{ header: { name: 'f', type: 'file', uid: 1000, gid: 100 }, body: 'x' }], {
        ids,
        preserveOwnership: false,
      });
      expect(sys.callsOf('lchown').at(-1)).toMatchObject({ uid: 100000, gid: 200000 });
    });

    it('refuses an owner beyond the ranges and writes nothing', async () => {
      await expect(
        extract([file('ok', 'fine'), { header: { name: 'far', type: 'file', uid: 70000 }, body: 'x' }], { ids }),
      ).rejects.toThrow('refusing tar entry "far": container uid 70000 cannot be mapped to a host uid');
      expectNothingWritten();
    });

    it('marks opaque directories for an overlay mounted with userxattr', async () => {
      await extract([dir('var/cache/'), file('var/cache/.wh..wh..opq', '')], { ids });
      expect(sys.lgetxattr(join(target, 'var/cache'), USER_OVERLAY_OPAQUE_XATTR)?.toString()).toBe('y');
      expect(sys.lgetxattr(join(target, 'var/cache'), OVERLAY_OPAQUE_XATTR)).toBeUndefined();
    });
  });

  it('never takes an overlay xattr from the archive', async () => {
    await extract([
      {
        header: {
          name: 'd/',
          type: 'directory',
          pax: { 'SCHILY.xattr.user.overlay.opaque': 'y', 'SCHILY.xattr.user.note': 'n' },
        },
      } as unknown as TarEntry,
    ]);
    const set = sys.callsOf('lsetxattr').map((call) => call.name);
    expect(set).toEqual(['user.note']);
  });

  it('keeps .wh. names as files when whiteouts are off', async () => {
    await extract([file('.wh.x', 'plain')], { whiteouts: false });
    expect(readFileSync(join(target, '.wh.x'), 'utf8')).toBe('plain');
  });

  it('refuses a truncated archive and leaves nothing', async () => {
    const tar = await tarBuffer([file('big', 'x'.repeat(5000))]);
    await expect(extractTar(chunks(tar.subarray(0, 2000)), target, options)).rejects.toThrow();
    expectNothingWritten();
  });

  it('refuses to write over an existing destination', async () => {
    mkdirSync(target);
    await expect(extract([file('a', 'x')])).rejects.toThrow(/it already exists/);
  });

  it('creates parents an archive does not list', async () => {
    await extract([file('a/b/c', 'deep')]);
    expect(readFileSync(join(target, 'a/b/c'), 'utf8')).toBe('deep');
  });

  it('leaves a symlink pointing outside as a symlink (it is only followed inside the container)', async () => {
    await extract([symlink('etc/localtime', '/usr/share/zoneinfo/UTC')]);
    expect(readlinkSync(join(target, 'etc/localtime'))).toBe('/usr/share/zoneinfo/UTC');
  });
});
