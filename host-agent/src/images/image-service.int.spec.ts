/**
 * Images for real, as root: a busybox image built from Debian's busybox-static, real layers
 * with real ownership, whiteouts and xattrs, a real overlay mount of the resulting rootfs, and
 * (where Debian's skopeo is installed) an outside reader of what `save` writes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  buildBusyboxImage,
  busyboxRootfsTar,
  packEntries,
  type BusyboxImage,
} from '../../../test/support/busybox-image.js';
import type { SnapshotPlan } from '../snapshots/overlay-snapshotter.js';
import { LibcSysCalls } from '../sys/libc-sys-calls.js';
import { hostPlatform } from './image-config.js';
import { ImageService } from './image-service.js';

const sys = new LibcSysCalls();
const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;

async function* bytes(buffer: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += 65536)
    yield await Promise.resolve(buffer.subarray(offset, offset + 65536));
}

describe(`${ImageService.name} (root, real layers)`, () => {
  let work: string;
  let root: string;
  let images: ImageService;
  let dockerSave: BusyboxImage;
  let ociLayout: BusyboxImage;
  const mounted: SnapshotPlan[] = [];

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('these tests need root (ownership, whiteouts, overlay mounts)');
    work = await mkdtemp('/var/tmp/skiff-images-int-');
    dockerSave = await buildBusyboxImage({ directory: work });
    ociLayout = await buildBusyboxImage({ directory: work, format: 'oci-layout', gzipLayer: true, tag: 'busybox:oci' });
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    root = await mkdtemp(join(work, 'root-'));
    images = await ImageService.open({ root, sys });
  });

  afterEach(async () => {
    for (const plan of mounted.splice(0)) images.snapshotter.unmount(plan);
    await rm(root, { recursive: true, force: true });
  });

  const loadFile = (path: string) => images.load(createReadStream(path));

  it('loads the busybox docker-save archive and inspects it', async () => {
    const result = await loadFile(dockerSave.archivePath);
    expect(result.lines).toEqual(['Loaded image: busybox:latest']);
    const inspect = images.inspect('busybox');
    expect(inspect).toMatchObject({
      Id: dockerSave.imageId,
      RepoTags: ['busybox:latest'],
      Architecture: hostPlatform().architecture,
      Os: 'linux',
      Config: { Cmd: ['sh'], Env: [expect.stringMatching(/^PATH=/)] },
      RootFS: { Type: 'layers', Layers: [dockerSave.diffId] },
    });
    expect(inspect.Size).toBeGreaterThan(statSync('/bin/busybox').size - 1);
    const diff = images.layers.diffDirectory(images.resolve('busybox').chainIds[0]);
    expect(statSync(join(diff, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(join(diff, 'etc/passwd'), 'utf8')).toMatch(/^nobody:/m);
  });

  it('loads the OCI layout variant with a gzip layer as the same image', async () => {
    expect(ociLayout.imageId).toBe(dockerSave.imageId);
    const result = await loadFile(ociLayout.archivePath);
    expect(result).toMatchObject({ format: 'oci-layout', lines: ['Loaded image: busybox:oci'] });
    expect(images.resolve('busybox:oci').id).toBe(dockerSave.imageId);
  });

  it('tags, lists history, and removes the image with everything it stored', async () => {
    await loadFile(dockerSave.archivePath);
    await images.tag('busybox', '127.0.0.1:5000/busybox', 'local');
    expect(images.inspect('127.0.0.1:5000/busybox:local').RepoTags).toEqual([
      '127.0.0.1:5000/busybox:local',
      'busybox:latest',
    ]);
    const history = await images.history('busybox');
    expect(history.map((row) => [row.CreatedBy, row.Size > 0])).toEqual([
      ['/bin/sh -c #(nop)  CMD ["sh"]', false],
      ['/bin/sh -c #(nop) ADD file:busybox-static in / ', true],
    ]);
    expect(await images.remove('busybox')).toEqual([{ Untagged: 'busybox:latest' }]);
    const items = await images.remove('127.0.0.1:5000/busybox:local');
    expect(items.map((item) => Object.keys(item)[0])).toEqual(['Untagged', 'Deleted', 'Deleted']);
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(readdirSync(join(root, 'content/sha256'))).toEqual([]);
    expect(readdirSync(join(root, 'l'))).toEqual([]);
  });

  it('runs busybox from an overlay mount of the image', async () => {
    await loadFile(dockerSave.archivePath);
    const plan = await images.rootfsPlan('c1', 'busybox');
    await images.snapshotter.prepare(plan);
    images.snapshotter.mount(plan);
    mounted.push(plan);
    const merged = plan.rootfs.target;
    expect(execFileSync(join(merged, 'bin/busybox'), ['echo', 'hello from the image'], { encoding: 'utf8' })).toBe(
      'hello from the image\n',
    );
    expect(readdirSync(join(merged, 'bin')).length).toBe(dockerSave.applets.length + 1);
  });

  it('reports docker diff of a container from its upper directory and exports its rootfs', async () => {
    await loadFile(dockerSave.archivePath);
    const plan = await images.rootfsPlan('c2', 'busybox');
    await images.snapshotter.prepare(plan);
    images.snapshotter.mount(plan);
    mounted.push(plan);
    writeFileSync(join(plan.rootfs.target, 'tmp/new-file'), 'x');
    unlinkSync(join(plan.rootfs.target, 'bin/vi'));
    const changes = await images.snapshotter.changes(plan);
    expect(changes).toEqual(
      expect.arrayContaining([
        { Path: '/tmp', Kind: 0 },
        { Path: '/tmp/new-file', Kind: 1 },
        { Path: '/bin', Kind: 0 },
        { Path: '/bin/vi', Kind: 2 },
      ]),
    );
    const exported = join(work, 'export.tar');
    await pipeline(await images.snapshotter.exportTar(plan), createWriteStream(exported));
    const listing = execFileSync('tar', ['-tf', exported], { encoding: 'utf8' }).split('\n');
    expect(listing).toContain('tmp/new-file');
    expect(listing).toContain('bin/busybox');
    expect(listing).not.toContain('bin/vi');
    expect(readdirSync(join(root, 'containers/c2')).sort()).toEqual(['merged', 'upper', 'work']);
  });

  it('hides lower files behind the whiteouts of a later layer, on a real overlay', async () => {
    const base = await busyboxRootfsTar();
    const top = await packEntries([
      { header: { name: 'etc/', type: 'directory', mode: 0o755 } },
      { header: { name: 'etc/.wh.group', type: 'file' }, body: '' },
      { header: { name: 'tmp/', type: 'directory', mode: 0o1777 } },
      { header: { name: 'tmp/.wh..wh..opq', type: 'file' }, body: '' },
      { header: { name: 'tmp/fresh', type: 'file' }, body: 'fresh' },
    ]);
    const imported = await images.importImage(bytes(base), { repository: 'base' });
    const baseConfig = images.resolve(imported.id).config;
    const config = Buffer.from(
      JSON.stringify({
        ...baseConfig,
        rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, `sha256:${sha(top)}`] },
      }),
    );
    const configBlob = await images.content.write(config);
    const topBlob = await images.content.write(top);
    const image = await images.addImage({
      config: configBlob.digest,
      layers: [(await images.layers.require(images.resolve(imported.id).chainIds[0])).blob.digest, topBlob.digest],
      tags: [{ domain: 'docker.io', path: 'library/whiteouts', tag: 'latest' }],
    });
    const plan = await images.rootfsPlan('c3', image);
    await images.snapshotter.prepare(plan);
    images.snapshotter.mount(plan);
    mounted.push(plan);
    expect(existsSync(join(plan.rootfs.target, 'etc/group'))).toBe(false);
    expect(existsSync(join(plan.rootfs.target, 'etc/passwd'))).toBe(true);
    expect(readdirSync(join(plan.rootfs.target, 'tmp'))).toEqual(['fresh']);
  });

  it('round-trips busybox through save and load into another root', async () => {
    await loadFile(dockerSave.archivePath);
    const saved = join(work, 'saved.tar');
    await pipeline(await images.save(['busybox:latest']), createWriteStream(saved));
    const otherRoot = await mkdtemp(join(work, 'other-'));
    try {
      const other = await ImageService.open({ root: otherRoot, sys });
      const result = await other.load(createReadStream(saved));
      expect(result.lines).toEqual(['Loaded image: busybox:latest']);
      expect(other.resolve('busybox').id).toBe(dockerSave.imageId);
      const diff = other.layers.diffDirectory(other.resolve('busybox').chainIds[0]);
      expect(readFileSync(join(diff, 'bin/busybox')).equals(readFileSync('/bin/busybox'))).toBe(true);
    } finally {
      await rm(otherRoot, { recursive: true, force: true });
    }
  });

  it('imports the busybox root filesystem as a one-layer image', async () => {
    const result = await images.importImage(bytes(await busyboxRootfsTar()), {
      repository: 'imported:1',
      changes: ['CMD ["sh"]'],
    });
    expect(images.inspect('imported:1')).toMatchObject({
      Id: result.id,
      Config: { Cmd: ['sh'] },
      RootFS: { Layers: [dockerSave.diffId] },
    });
    // The same layer as the loaded image: one chain id, unpacked once.
    await loadFile(dockerSave.archivePath);
    expect(readdirSync(join(root, 'layers'))).toHaveLength(1);
  });

  it('refuses a crafted layer and nothing lands outside or inside', async () => {
    const victim = join(work, 'victim');
    const evilLayer = await packEntries([
      { header: { name: 'escape', type: 'symlink', linkname: work } },
      { header: { name: 'escape/victim', type: 'file' }, body: 'owned' },
    ]);
    const archive = await packEntries([
      { header: { name: 'layer.tar', type: 'file' }, body: evilLayer },
      {
        header: { name: 'config.json', type: 'file' },
        body: JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          rootfs: { type: 'layers', diff_ids: [`sha256:${sha(evilLayer)}`] },
        }),
      },
      {
        header: { name: 'manifest.json', type: 'file' },
        body: JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:1'], Layers: ['layer.tar'] }]),
      },
    ]);
    await expect(images.load(bytes(archive))).rejects.toThrow(
      /refusing tar entry "escape\/victim": "escape" is a symlink to .*, out of the target/,
    );
    expect(existsSync(victim)).toBe(false);
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(readdirSync(join(root, 'content/sha256'))).toEqual([]);
  });

  it.skipIf(!hasSkopeo)('writes archives that skopeo reads (docker-archive and oci-archive)', async () => {
    await loadFile(dockerSave.archivePath);
    const saved = join(work, 'for-skopeo.tar');
    await pipeline(await images.save(['busybox:latest']), createWriteStream(saved));
    const viaDocker = JSON.parse(
      execFileSync('skopeo', ['inspect', `docker-archive:${saved}`], { encoding: 'utf8' }),
    ) as {
      Layers: string[];
      Architecture: string;
    };
    expect(viaDocker.Layers).toEqual([dockerSave.diffId]);
    const viaOci = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', `oci-archive:${saved}`], { encoding: 'utf8' }),
    ) as {
      rootfs: { diff_ids: string[] };
    };
    expect(viaOci.rootfs.diff_ids).toEqual([dockerSave.diffId]);
  });
});

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
