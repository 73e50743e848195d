import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeSysCalls } from '../sys/fake-sys-calls.js';
import { ContentStore } from './content-store.js';
import { sha256Digest, type Digest } from './digest.js';
import { LayerStore } from './layer-store.js';
import { OverlaySnapshotter, overlayOptions } from './overlay-snapshotter.js';

describe(OverlaySnapshotter.name, () => {
  let root: string;
  let sys: FakeSysCalls;
  let layers: LayerStore;
  let snapshotter: OverlaySnapshotter;
  const chain = (count: number): Digest[] =>
    Array.from({ length: count }, (_, index) => sha256Digest(`layer ${index}`));

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-snapshots-'));
    sys = new FakeSysCalls();
    layers = new LayerStore(root, new ContentStore(root), sys);
    snapshotter = new OverlaySnapshotter(root, layers, sys);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('describes the rootfs with the top layer first and mounts nothing', () => {
    const [a, b, c] = chain(3) as [Digest, Digest, Digest];
    const plan = snapshotter.plan('web-1', [a, b, c]);
    expect(plan.rootfs).toEqual({
      kind: 'overlay',
      target: join(root, 'containers/web-1/merged'),
      lowerDirs: [layers.diffDirectory(c), layers.diffDirectory(b), layers.diffDirectory(a)],
      upperDir: join(root, 'containers/web-1/upper'),
      workDir: join(root, 'containers/web-1/work'),
    });
    expect(plan.mountOptions).toBe(
      `lowerdir=${plan.rootfs.lowerDirs.join(':')},upperdir=${plan.rootfs.upperDir},workdir=${plan.rootfs.workDir}`,
    );
    expect(sys.calls).toEqual([]);
    expect(existsSync(join(root, 'containers'))).toBe(false);
  });

  it('uses the empty lower directory for an image without layers', () => {
    expect(snapshotter.plan('c', []).rootfs.lowerDirs).toEqual([join(root, 'empty-layer')]);
  });

  it('switches to the short layer links when the full paths do not fit in a page', () => {
    const many = chain(60);
    const plan = snapshotter.plan('c', many);
    expect(plan.rootfs.lowerDirs[0]).toBe(layers.shortDiffPath(many[59]));
    expect(plan.mountOptions.length).toBeLessThan(4096);
  });

  it('refuses more layers than one mount can take', () => {
    expect(() => snapshotter.plan('c', chain(200))).toThrow(/200 layers are too many for one overlay mount/);
  });

  it('refuses a container id that is not a plain name', () => {
    expect(() => snapshotter.plan('../x', [])).toThrow('invalid container id for a snapshot: ../x');
  });

  it('creates the directories of a plan with their modes, and again without harm', async () => {
    await snapshotter.init();
    const plan = snapshotter.plan('c', chain(1));
    await snapshotter.prepare(plan);
    await snapshotter.prepare(plan);
    expect(statSync(plan.rootfs.upperDir).mode & 0o777).toBe(0o755);
    expect(statSync(plan.rootfs.workDir).mode & 0o777).toBe(0o700);
    expect(statSync(plan.rootfs.target).isDirectory()).toBe(true);
  });

  it('mounts and unmounts through the syscall layer', () => {
    const plan = snapshotter.plan('c', chain(1));
    snapshotter.mount(plan);
    snapshotter.unmount(plan);
    expect(sys.calls).toEqual([
      {
        call: 'mount',
        request: { source: 'overlay', target: plan.rootfs.target, fstype: 'overlay', data: plan.mountOptions },
      },
      { call: 'umount2', target: plan.rootfs.target, flags: ['detach'] },
    ]);
  });

  it('removes a container’s directories', async () => {
    await snapshotter.init();
    const plan = snapshotter.plan('c', chain(1));
    await snapshotter.prepare(plan);
    await snapshotter.remove('c');
    expect(existsSync(join(root, 'containers/c'))).toBe(false);
    await expect(snapshotter.remove('c')).resolves.toBeUndefined();
  });
});

describe(overlayOptions.name, () => {
  it('refuses directories with characters overlayfs would split on', () => {
    expect(() => overlayOptions(['/a,b'], '/u', '/w')).toThrow("overlay directory /a,b contains ',' or ':'");
  });
});
