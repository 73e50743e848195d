/**
 * Local volumes with real mounts: root, tmpfs and bind mounts through mount(8) on this machine.
 * Every mount under the test's directory is undone after each test, whatever happened.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LibcSysCalls } from '../sys/libc-sys-calls.js';
import { SysVolumeMounter, mountPoints } from './sys-volume-mounter.js';
import { VolumeStore } from './volume-store.js';

const isRoot = process.getuid?.() === 0;

const mountsUnder = async (directory: string): Promise<string[]> =>
  mountPoints(await readFile('/proc/self/mountinfo', 'utf8')).filter((point) => point.startsWith(`${directory}/`));

describe.runIf(isRoot)(`${VolumeStore.name} with real mounts`, () => {
  let base: string;
  let store: VolumeStore;
  const data = (name: string) => join(base, 'state', 'volumes', name, '_data');

  beforeEach(async () => {
    base = mkdtempSync(join(tmpdir(), 'skiff-volumes-int-'));
    store = await VolumeStore.open({ root: join(base, 'state'), mounter: new SysVolumeMounter(new LibcSysCalls()) });
  });
  afterEach(async () => {
    // Deepest first; lazily, so that a failed test cannot leave anything mounted.
    for (const point of (await mountsUnder(base)).sort().reverse()) execFileSync('/bin/umount', ['-l', point]);
    expect(await mountsUnder(base)).toEqual([]);
    await rm(base, { recursive: true, force: true });
  });

  it('mounts a tmpfs volume of 1 MiB on first use: writing 2 MiB fails with ENOSPC', async () => {
    await store.create({ name: 'small', driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });

    const path = await store.mountFor('small', 'c1');

    expect(await mountsUnder(base)).toEqual([data('small')]);
    await expect(writeFile(join(path, 'big'), Buffer.alloc(2 * 1024 * 1024))).rejects.toMatchObject({ code: 'ENOSPC' });
    await store.unmountFor('small', 'c1');
    expect(await mountsUnder(base)).toEqual([]);
  });

  it('applies flags from o: a read-only tmpfs refuses writes', async () => {
    await store.create({ name: 'frozen', driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'ro,size=1m' } });

    const path = await store.mountFor('frozen', 'c1');

    await expect(writeFile(join(path, 'file'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    await store.unmountFor('frozen', 'c1');
  });

  it('binds a host directory, and removing the volume leaves that directory alone', async () => {
    const device = join(base, 'srv-data');
    await mkdir(device);
    await writeFile(join(device, 'existing'), 'from the host');
    await store.create({ name: 'srv', driverOpts: { type: 'none', o: 'bind', device } });

    const path = await store.mountFor('srv', 'c1');
    expect(await readFile(join(path, 'existing'), 'utf8')).toBe('from the host');
    await writeFile(join(path, 'written'), 'by a container');
    await store.unmountFor('srv', 'c1');

    expect(await readdir(data('srv'))).toEqual([]);
    await store.remove('srv');
    expect((await readdir(device)).sort()).toEqual(['existing', 'written']);
  });

  it('unmounts only when the last of its containers lets go', async () => {
    await store.create({ name: 'shared', driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });

    await store.mountFor('shared', 'c1');
    await store.mountFor('shared', 'c2');
    expect(await mountsUnder(base)).toEqual([data('shared')]);

    await store.unmountFor('shared', 'c1');
    expect(await mountsUnder(base)).toEqual([data('shared')]);

    await store.unmountFor('shared', 'c2');
    expect(await mountsUnder(base)).toEqual([]);
  });

  it('populates a tmpfs volume from the image, and again after its content went with the unmount', async () => {
    const image = join(base, 'rootfs', 'var', 'cache', 'app');
    await mkdir(image, { recursive: true });
    await writeFile(join(image, 'seed'), 'warm');
    await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });

    await store.mountFor('cache', 'c1');
    expect((await store.populateFromImage('cache', image)).outcome).toBe('copied');
    expect(await readFile(join(data('cache'), 'seed'), 'utf8')).toBe('warm');
    await store.unmountFor('cache', 'c1');

    await store.mountFor('cache', 'c2');
    expect(await readdir(data('cache'))).toEqual([]);
    expect((await store.populateFromImage('cache', image)).outcome).toBe('copied');
    expect((await stat(join(data('cache'), 'seed'))).size).toBe(4);
    await store.unmountFor('cache', 'c2');
  });

  it('finds a volume still mounted after a restart and unmounts it with its last container', async () => {
    await store.create({ name: 'kept', driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
    await store.mountFor('kept', 'c1');

    const restarted = await VolumeStore.open({
      root: join(base, 'state'),
      mounter: new SysVolumeMounter(new LibcSysCalls()),
    });
    await restarted.mountFor('kept', 'c1');
    expect(await mountsUnder(base)).toEqual([data('kept')]);

    await restarted.unmountFor('kept', 'c1');
    expect(await mountsUnder(base)).toEqual([]);
  });
});
