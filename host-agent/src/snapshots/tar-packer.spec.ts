import { mkdirSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeSysCalls } from '../sys/fake-sys-calls.js';
import { OVERLAY_OPAQUE_XATTR, USER_OVERLAY_OPAQUE_XATTR } from '../sys/sys-calls.js';
import { IdMap } from '../userns/id-map.js';
import { directoryEntries, packDirectory, tarBuffer } from './tar-packer.js';

async function listTar(
  stream: AsyncIterable<unknown>,
): Promise<{ name: string; type: string; linkname?: string; body: string }[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const extract = tar.extract();
  const entries: { name: string; type: string; linkname?: string; body: string }[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = [];
      for await (const part of entry) parts.push(part as Buffer);
      entries.push({
        name: entry.header.name,
        type: entry.header.type,
        ...(entry.header.linkname ? { linkname: entry.header.linkname } : {}),
        body: Buffer.concat(parts).toString(),
      });
    }
  })();
  extract.end(Buffer.concat(chunks));
  await reading;
  return entries;
}

describe(packDirectory.name, () => {
  let dir: string;
  let sys: FakeSysCalls;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-pack-'));
    sys = new FakeSysCalls();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('packs a tree parents first, with symlinks and hard links', async () => {
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin/busybox'), 'BB');
    linkSync(join(dir, 'bin/busybox'), join(dir, 'bin/ash'));
    symlinkSync('busybox', join(dir, 'bin/sh'));
    expect(await listTar(packDirectory(dir, { sys, mode: 'plain' }))).toEqual([
      { name: 'bin/', type: 'directory', body: '' },
      { name: 'bin/ash', type: 'file', body: 'BB' },
      { name: 'bin/busybox', type: 'link', linkname: 'bin/ash', body: '' },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox', body: '' },
    ]);
  });

  it('turns whiteouts and opaque directories back into .wh. entries for a layer diff', async () => {
    mkdirSync(join(dir, 'etc'));
    sys.mknod({ path: join(dir, 'etc/hosts'), kind: 'char', permissions: 0, major: 0, minor: 0 });
    mkdirSync(join(dir, 'cache'));
    sys.lsetxattr(join(dir, 'cache'), OVERLAY_OPAQUE_XATTR, 'y');
    expect((await listTar(packDirectory(dir, { sys, mode: 'overlay-diff' }))).map((entry) => entry.name)).toEqual([
      'cache/',
      'cache/.wh..wh..opq',
      'etc/',
      'etc/.wh.hosts',
    ]);
  });

  it('writes container owners, and reads userxattr opaque marks, for an engine that remaps ids', async () => {
    const ids = new IdMap(
      [{ insideId: 0, outsideId: 100000, count: 65536 }],
      [{ insideId: 0, outsideId: 200000, count: 65536 }],
    );
    mkdirSync(join(dir, 'cache'));
    writeFileSync(join(dir, 'mine'), 'm');
    writeFileSync(join(dir, 'stray'), 's');
    sys.lchown(join(dir, 'cache'), 100000, 200000);
    sys.lchown(join(dir, 'mine'), 101000, 201000);
    sys.lchown(join(dir, 'stray'), 0, 0);
    sys.lsetxattr(join(dir, 'cache'), USER_OVERLAY_OPAQUE_XATTR, 'y');
    const owners: string[] = [];
    for await (const entry of directoryEntries(dir, { sys, mode: 'overlay-diff', ids })) {
      owners.push(`${entry.header.name} ${entry.header.uid}:${entry.header.gid}`);
    }
    // A host id outside the ranges shows as nobody, as the kernel shows it in the container.
    expect(owners).toEqual(['cache/ 0:0', 'cache/.wh..wh..opq 0:0', 'mine 1000:1000', 'stray 65534:65534']);
  });

  it('packs a whiteout as a device in plain mode', async () => {
    sys.mknod({ path: join(dir, 'gone'), kind: 'char', permissions: 0, major: 0, minor: 0 });
    expect(await listTar(packDirectory(dir, { sys, mode: 'plain' }))).toEqual([
      { name: 'gone', type: 'character-device', body: '' },
    ]);
  });
});

describe(tarBuffer.name, () => {
  it('keeps a mode of 0 as 0', async () => {
    const archive = await tarBuffer([{ header: { name: 'locked', type: 'file', mode: 0 }, body: 'x' }]);
    const extract = tar.extract();
    const modes: number[] = [];
    const reading = (async () => {
      for await (const entry of extract) {
        modes.push(entry.header.mode);
        entry.resume();
      }
    })();
    extract.end(archive);
    await reading;
    expect(modes).toEqual([0]);
  });

  it('writes names longer than 100 characters', async () => {
    const name = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const entries = await listTar(Readable.from([await tarBuffer([{ header: { name, type: 'file' }, body: 'x' }])]));
    expect(entries.map((entry) => entry.name)).toEqual([name]);
  });
});
